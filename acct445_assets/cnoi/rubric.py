"""Rubric "cnoi-1" (METHODS.md section 1): seven opacity dimensions and the CNOI.

Every point of every dimension comes from a penalty recorded as `DIM:reason`, so a
score can always be explained from its `penalty_reasons`.
"""

from __future__ import annotations

import json
import math
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from .adoption import find_adoption_date
from .extract import CeclNote, parse_number
from .readability import Readability, readability

RUBRIC_VERSION = "cnoi-1"
WEIGHTS = {"D": 0.2, "G": 0.2, "R": 0.2, "J": 0.1, "T": 0.1, "S": 0.1, "X": 0.1}
DIMENSIONS = tuple(WEIGHTS)

# A word boundary before a word is written as a look-behind after it (`gdp(?<!\wgdp)` is
# `\bgdp`): a pattern whose every branch starts with a literal is scanned for those
# literals instead of being tried at every position of the text.
CROSS_REF_RE = re.compile(r"see(?<!\wsee)\s+(?:also\s+)?note\b|refer(?<!\wrefer)\s+to\b", re.I)
METHODOLOGY_RE = re.compile(
    r"methodolog|discounted cash flow|probability of default|loss given default|"
    r"loss[- ]rate method|remaining life method|vintage analysis|"
    r"weighted[- ]average remaining maturity|warm(?<!\wwarm) method|migration analysis|"
    r"collectively evaluated",
    re.I,
)
ROLLFORWARD_TABLE_RE = (
    re.compile(r"charge[- ]?offs?", re.I),
    re.compile(r"recover", re.I),
    re.compile(r"beginning|balance at|balance,|prior period", re.I),
)
PAST_DUE_RE = re.compile(r"past due", re.I)
AGING_BUCKET_RE = re.compile(
    r"30(?<!\w30)(?:\s*[-–—]\s*59| to 59)\b|60(?<!\w60)(?:\s*[-–—]\s*89| to 89)\b|"
    r"90(?<!\w90)(?: days or (?:more|greater)|\+| or more days)|greater than 90 days",
    re.I,
)
COLLATERAL_RE = re.compile(r"collateral[- ]dependent", re.I)
REASONABLE_RE = re.compile(r"reasonable and supportable", re.I)
FORECAST_RE = re.compile(r"forecast", re.I)
MACRO_RE = re.compile(
    r"unemployment|gdp(?<!\wgdp)\b|gross domestic product|macroeconomic|economic scenario|"
    r"house price|home price",
    re.I,
)
CQI_RE = re.compile(r"special mention|substandard|fico(?<!\wfico)\b|loan[- ]to[- ]value", re.I)
RISK_CHAR_RE = re.compile(r"risk characteristics", re.I)
SEGMENT_RES = {
    "commercial_industrial": re.compile(
        r"commercial,? (?:and|&) industrial|c&i(?<!\wc&i)\b|commercial business", re.I
    ),
    "commercial_real_estate": re.compile(r"commercial real estate|owner[- ]occupied", re.I),
    "construction": re.compile(r"construction|land development", re.I),
    "residential": re.compile(
        r"residential (?:real estate|mortgage)|1-4 family|one-to-four family|single[- ]family", re.I
    ),
    "home_equity": re.compile(r"home equity|heloc(?<!\wheloc)", re.I),
    "consumer": re.compile(r"consumer(?<!\wconsumer)\b|automobile|auto(?<!\wauto) loans?\b", re.I),
    "agricultural": re.compile(r"agricultur|farmland", re.I),
    "multifamily": re.compile(r"multi-?family", re.I),
    "credit_card": re.compile(r"credit cards?", re.I),
}
MERGER_RE = re.compile(
    r"(?:completed(?<!\wcompleted)|consummated(?<!\wconsummated)|closed(?<!\wclosed))\s+"
    r"(?:its\s+|the\s+|our\s+)?(?:previously announced\s+)?"
    r"(?:merger|acquisition)\b",
    re.I,
)
NUMBER_TOKEN_RE = re.compile(r"\d[\d,.]*")
SHINGLE_TOKEN_RE = re.compile(r"[a-z]+|#")
MAX_SHINGLE_TOKENS = 20_000
# SHINGLE_TOKEN_RE takes runs of a-z and single #s, so once each # is padded any other
# character may become a blank: on ASCII text (the rest first made "?") translate + split
# finds its tokens 3x faster than findall.
_SHINGLE_BLANKS = {i: " " for i in range(128) if chr(i) not in string.ascii_lowercase + "#"}
# Row labels, units and many figures recur from note to note.
_parse_number = lru_cache(maxsize=1 << 14)(parse_number)


class _Phrases:
    """A pattern of plain phrases joined by |, searched with `in` (the regex engine tries
    every phrase at every position that starts one)."""

    def __init__(self, pattern: str) -> None:
        self.phrases = tuple(pattern.split("|"))

    def search(self, text: str) -> bool:
        return any(p in text for p in self.phrases)


def _without_re_i(rx: re.Pattern[str]) -> re.Pattern[str] | _Phrases:
    """`rx` for lower-cased text. Its cased characters must be ASCII lower case: only for
    those is re.I the same as lower-casing the text (see `_searchable`)."""
    if any(c.lower() != c.upper() and not "a" <= c <= "z" for c in rx.pattern):
        raise ValueError(f"cnoi-1 patterns are written in ASCII lower case: {rx.pattern!r}")
    if not rx.flags & re.X and not any(c in "\\.^$*+?{}[]()" for c in rx.pattern):
        return _Phrases(rx.pattern)
    return re.compile(rx.pattern, rx.flags & ~re.I)


_CASED = (
    CROSS_REF_RE,
    METHODOLOGY_RE,
    *ROLLFORWARD_TABLE_RE,
    PAST_DUE_RE,
    AGING_BUCKET_RE,
    COLLATERAL_RE,
    REASONABLE_RE,
    FORECAST_RE,
    MACRO_RE,
    CQI_RE,
    RISK_CHAR_RE,
    *SEGMENT_RES.values(),
    MERGER_RE,
)
_LOWERED = {rx: _without_re_i(rx) for rx in _CASED}
_AS_IS = {rx: rx for rx in _CASED}
# re.I matches these three to ASCII i and s, and str.lower() turns İ into two characters.
_RE_I_ODD = ("\u0130", "\u0131", "\u017f")


def _searchable(text: str) -> tuple[str, dict[re.Pattern[str], re.Pattern[str] | _Phrases]]:
    """`text` and what to search it with in place of each cnoi-1 pattern: text without
    `_RE_I_ODD` lower-cased and the patterns without re.I, which match the same and are
    several times faster (a re.I pattern cannot skip ahead to its first letters)."""
    if text.isascii() or not any(c in text for c in _RE_I_ODD):
        return text.lower(), _LOWERED
    return text, _AS_IS


class NoteUnscorable(ValueError):
    """A note that cannot be scored (not located, or empty); the caller records the reason."""


@dataclass(frozen=True)
class ContentFlags:
    methodology: bool
    roll_forward: bool
    aging: bool
    collateral_dependent: bool
    inputs_forecast: bool
    credit_quality: bool
    risk_characteristics: bool
    segments: tuple[str, ...]
    cross_references: int
    reconciled: bool | None  # None: no balance-sheet total to reconcile against


def _table_text(rows: list[list[str]]) -> str:
    return "\n".join(" | ".join(r) for r in rows)


def detect_content(note: CeclNote) -> ContentFlags:
    tables = note.tables
    return _detect_content(note, note.text, note.prose, tables, [_table_text(t) for t in tables])


def _detect_content(
    note: CeclNote,
    text: str,
    prose: str,
    tables: list[list[list[str]]],
    table_texts: list[str],
) -> ContentFlags:
    s, rx = _searchable(text)
    roll_forward = False
    for table_text in table_texts:
        t, trx = _searchable(table_text)
        if all(trx[p].search(t) for p in ROLLFORWARD_TABLE_RE):
            roll_forward = True
            break
    aging = bool(rx[PAST_DUE_RE].search(s) and rx[AGING_BUCKET_RE].search(s))
    inputs = bool(
        rx[REASONABLE_RE].search(s) or (rx[FORECAST_RE].search(s) and rx[MACRO_RE].search(s))
    )
    cqi_terms = {term.lower() for term in rx[CQI_RE].findall(s)}
    cqi = len(cqi_terms) >= 2 or "fico" in cqi_terms
    segments = tuple(name for name, p in SEGMENT_RES.items() if rx[p].search(s))
    reconciled = None
    if note.balance_sheet_acl is not None:
        target = abs(note.balance_sheet_acl)
        # Each distinct cell or number parsed once, in order, until one matches.
        numbers = dict.fromkeys(c for t in tables for r in t for c in r)
        numbers.update(dict.fromkeys(NUMBER_TOKEN_RE.findall(prose)))
        reconciled = any(
            v is not None and abs(abs(v) - target) < 0.5 for v in map(_parse_number, numbers)
        )
    p, prx = _searchable(prose)
    return ContentFlags(
        methodology=bool(rx[METHODOLOGY_RE].search(s)),
        roll_forward=roll_forward,
        aging=aging,
        collateral_dependent=bool(rx[COLLATERAL_RE].search(s)),
        inputs_forecast=inputs,
        credit_quality=cqi,
        risk_characteristics=bool(rx[RISK_CHAR_RE].search(s)),
        segments=segments,
        cross_references=len(prx[CROSS_REF_RE].findall(p)),
        reconciled=reconciled,
    )


# score_notes asks for the shingles of each note twice: while scoring it, and as the
# next note's prior.
@lru_cache(maxsize=4)
def note_shingles(text: str) -> frozenset[int]:
    """Word-bigram shingles with numbers masked: quarterly figure updates are not churn."""
    masked = NUMBER_TOKEN_RE.sub(" # ", text.lower()).replace("#", " # ")
    ascii_text = masked.encode("ascii", "replace").decode("ascii")
    tokens = ascii_text.translate(_SHINGLE_BLANKS).split()[:MAX_SHINGLE_TOKENS]
    return frozenset(map(hash, zip(tokens, tokens[1:], strict=False)))


def similarity(prior: frozenset[int], current: frozenset[int]) -> float:
    """Jaccard similarity of shingle sets, 1.0 for two empty notes."""
    if not prior and not current:
        return 1.0
    common = len(prior & current)
    return common / (len(prior) + len(current) - common)


@dataclass
class Penalty:
    dim: str
    reason: str
    points: float

    @property
    def token(self) -> str:
        return f"{self.dim}:{self.reason}"


@dataclass
class RubricResult:
    cnoi: float
    dimensions: dict[str, float]
    penalties: list[Penalty]
    readability: Readability
    flags: ContentFlags
    similarity: float | None
    one_off_event: bool
    rubric_version: str = RUBRIC_VERSION
    extra: dict = field(default_factory=dict)

    @property
    def penalty_reasons(self) -> str:
        return "|".join(p.token for p in self.penalties)

    def as_record(self) -> dict:
        rec = {"cnoi": self.cnoi}
        rec.update({d.lower(): v for d, v in self.dimensions.items()})
        r = self.readability
        rec.update(
            penalty_reasons=self.penalty_reasons,
            penalties_json=json.dumps([p.__dict__ for p in self.penalties]),
            rubric_version=self.rubric_version,
            fk_grade=r.fk_grade,
            fog=r.fog,
            flesch=r.flesch,
            smog=r.smog,
            words=r.words,
            sentences=r.sentences,
            similarity_prior=self.similarity,
            one_off_event=self.one_off_event,
            n_segments=len(self.flags.segments),
            cross_references=self.flags.cross_references,
        )
        return rec


def detect_one_off(note: CeclNote, report_date=None) -> bool:
    """Adoption of CECL within the reported fiscal year, or a completed merger."""
    return _one_off(note.prose, report_date)


def _one_off(text: str, report_date) -> bool:
    s, rx = _searchable(text)
    if rx[MERGER_RE].search(s):
        return True
    if report_date is None:
        return False
    adopted = find_adoption_date(text)
    if adopted is None:
        return False
    report = pd.Timestamp(report_date)
    return report - pd.Timedelta(days=366) < adopted <= report


def _charged(*items: tuple[str, str, float]) -> list[Penalty]:
    """Penalties with points; a zero charge leaves no token."""
    return [Penalty(dim, reason, float(points)) for dim, reason, points in items if points > 0]


def discoverability(note: CeclNote, flags: ContentFlags) -> list[Penalty]:
    """METHODS 1, D: fallback location 40; cross-references 4 each, max 20; distance 0..30."""
    refs = flags.cross_references
    return _charged(
        ("D", "fallback_location", 40 if note.located_by == "fallback" else 0),
        ("D", f"cross_references_{refs}", min(20, 4 * refs)),
        ("D", "distance_from_statements", 30 * note.distance_share),
    )


def granularity(flags: ContentFlags) -> list[Penalty]:
    """METHODS 1, G: roll-forward 12, aging 8, credit-quality indicators 10, < 3 segments 20."""
    n_segments = len(flags.segments)
    return _charged(
        ("G", "missing_roll_forward", 0 if flags.roll_forward else 12),
        ("G", "missing_aging", 0 if flags.aging else 8),
        ("G", "missing_credit_quality_indicators", 0 if flags.credit_quality else 10),
        ("G", f"segments_{n_segments}_lt_3", 20 if n_segments < 3 else 0),
    )


def required_items(flags: ContentFlags) -> list[Penalty]:
    """METHODS 1, R: the disclosures ASC 326-20-50 requires, each missing one charged."""
    return _charged(
        *(
            ("R", reason, 0 if present else points)
            for present, reason, points in (
                (flags.methodology, "missing_methodology", 15),
                (flags.roll_forward, "missing_roll_forward", 15),
                (flags.aging, "missing_aging", 10),
                (flags.collateral_dependent, "missing_collateral_dependent", 10),
                (flags.inputs_forecast, "missing_inputs_forecast", 10),
                (flags.credit_quality, "missing_credit_quality_indicators", 10),
                (flags.risk_characteristics, "missing_risk_characteristics", 10),
            )
        )
    )


def readability_penalty(read: Readability) -> list[Penalty]:
    """METHODS 1, J: clip(5 x (Flesch-Kincaid grade - 8), 0, 100)."""
    if math.isnan(read.fk_grade):
        return [Penalty("J", "no_prose", 0.0)]
    return _charged(("J", "fk_grade_above_8", min(100.0, max(0.0, 5 * (read.fk_grade - 8)))))


def table_density(
    note: CeclNote, tables: list, prose_tokens: int, table_tokens: int
) -> list[Penalty]:
    """METHODS 1, T: table share < 20% 15; < 1 table per 1,000 words 10; any table without
    numbers 15; tables only as images 30."""
    words = prose_tokens + table_tokens
    numberless = sum(
        not any(_parse_number(c) is not None for r in t for c in r[1:] or r) for t in tables
    )
    return _charged(
        ("T", "table_share_below_20pct", 15 if table_tokens / words < 0.20 else 0),
        ("T", "under_1_table_per_1000_words", 10 if note.n_tables / (words / 1000.0) < 1.0 else 0),
        ("T", "tables_without_numbers", 15 if numberless else 0),
        ("T", "tables_only_images", 30 if not tables and note.n_images > 0 else 0),
    )


def stability(text: str, prior, one_off_event: bool) -> tuple[list[Penalty], float | None]:
    """METHODS 1, S: no prior note 10; else churn = 80 (1 - similarity), halved for a
    one-off event. Returns the penalties and the similarity (None without a prior)."""
    if prior is None:
        return _charged(("S", "no_prior_note", 10)), None
    prior_shingles = prior if isinstance(prior, frozenset) else note_shingles(prior.text)
    sim = similarity(prior_shingles, note_shingles(text))
    churn = 80 * (1 - sim)
    if one_off_event:
        return _charged(("S", "churn_vs_prior_halved_one_off", churn / 2)), sim
    return _charged(("S", "churn_vs_prior", churn)), sim


def consistency(flags: ContentFlags) -> list[Penalty]:
    """METHODS 1, X: roll-forward 15, credit-quality indicators 10, totals not reconciled 8."""
    pens = _charged(
        ("X", "missing_roll_forward", 0 if flags.roll_forward else 15),
        ("X", "missing_credit_quality_indicators", 0 if flags.credit_quality else 10),
    )
    if flags.reconciled is None:
        # Nothing to reconcile against: recorded, not charged as "not reconciled".
        pens.append(Penalty("X", "reconciliation_not_checkable", 0.0))
    elif not flags.reconciled:
        pens.append(Penalty("X", "totals_not_reconciled", 8.0))
    return pens


def score_note(
    note: CeclNote,
    prior: CeclNote | frozenset[int] | None = None,
    *,
    one_off_event: bool | None = None,
    report_date=None,
) -> RubricResult:
    """Score one note under rubric cnoi-1. `prior` is the bank's previous note (or its shingles).

    CNOI = sum of WEIGHTS x each dimension's penalties, every dimension clipped to 0..100."""
    if note.located_by == "none":
        raise NoteUnscorable("CECL note not located (no qualifying heading and no snippet)")
    prose = note.prose
    tables = note.tables
    table_texts = [_table_text(t) for t in tables]
    prose_tokens = len(prose.split())
    table_tokens = sum(len(t.split()) for t in table_texts)
    if prose_tokens + table_tokens == 0:
        raise NoteUnscorable("CECL note located but empty")

    text = note.text
    flags = _detect_content(note, text, prose, tables, table_texts)
    read = readability(prose)
    if one_off_event is None:
        one_off_event = _one_off(prose, report_date)
    stable, sim = stability(text, prior, one_off_event)
    pens = [
        *discoverability(note, flags),
        *granularity(flags),
        *required_items(flags),
        *readability_penalty(read),
        *table_density(note, tables, prose_tokens, table_tokens),
        *stable,
        *consistency(flags),
    ]
    dims = {d: 0.0 for d in DIMENSIONS}
    for p in pens:
        dims[p.dim] += p.points
    dims = {d: float(min(100.0, max(0.0, v))) for d, v in dims.items()}
    cnoi = sum(WEIGHTS[d] * dims[d] for d in DIMENSIONS)
    return RubricResult(
        cnoi=float(cnoi),
        dimensions=dims,
        penalties=pens,
        readability=read,
        flags=flags,
        similarity=sim,
        one_off_event=bool(one_off_event),
    )
