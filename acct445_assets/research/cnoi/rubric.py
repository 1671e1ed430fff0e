"""Rubric "cnoi-1" (METHODS.md section 1): seven opacity dimensions and the CNOI.

Every point of every dimension comes from a penalty recorded as `DIM:reason`, so a
score can always be explained from its `penalty_reasons`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import pandas as pd

from .adoption import find_adoption_date
from .extract import CeclNote, parse_number
from .readability import Readability, readability

RUBRIC_VERSION = "cnoi-1"
WEIGHTS = {"D": 0.2, "G": 0.2, "R": 0.2, "J": 0.1, "T": 0.1, "S": 0.1, "X": 0.1}
DIMENSIONS = tuple(WEIGHTS)

CROSS_REF_RE = re.compile(r"\bsee\s+(?:also\s+)?note\b|\brefer\s+to\b", re.I)
METHODOLOGY_RE = re.compile(
    r"methodolog|discounted cash flow|probability of default|loss given default|"
    r"loss[- ]rate method|remaining life method|vintage analysis|"
    r"weighted[- ]average remaining maturity|\bwarm method|migration analysis|collectively evaluated",
    re.I,
)
ROLLFORWARD_TABLE_RE = (
    re.compile(r"charge[- ]?offs?", re.I),
    re.compile(r"recover", re.I),
    re.compile(r"beginning|balance at|balance,|prior period", re.I),
)
PAST_DUE_RE = re.compile(r"past due", re.I)
AGING_BUCKET_RE = re.compile(
    r"\b30\s*[-–—]\s*59\b|\b30 to 59\b|\b60\s*[-–—]\s*89\b|\b60 to 89\b|\b90 days or (?:more|greater)|"
    r"\b90\+|greater than 90 days|\b90 or more days",
    re.I,
)
COLLATERAL_RE = re.compile(r"collateral[- ]dependent", re.I)
REASONABLE_RE = re.compile(r"reasonable and supportable", re.I)
FORECAST_RE = re.compile(r"forecast", re.I)
MACRO_RE = re.compile(
    r"unemployment|\bgdp\b|gross domestic product|macroeconomic|economic scenario|house price|home price",
    re.I,
)
CQI_RE = re.compile(r"special mention|substandard|\bfico\b|loan[- ]to[- ]value", re.I)
RISK_CHAR_RE = re.compile(r"risk characteristics", re.I)
SEGMENT_RES = {
    "commercial_industrial": re.compile(
        r"commercial,? (?:and|&) industrial|\bc&i\b|commercial business", re.I
    ),
    "commercial_real_estate": re.compile(r"commercial real estate|owner[- ]occupied", re.I),
    "construction": re.compile(r"construction|land development", re.I),
    "residential": re.compile(
        r"residential (?:real estate|mortgage)|1-4 family|one-to-four family|single[- ]family", re.I
    ),
    "home_equity": re.compile(r"home equity|\bheloc", re.I),
    "consumer": re.compile(r"\bconsumer\b|automobile|\bauto loans?\b", re.I),
    "agricultural": re.compile(r"agricultur|farmland", re.I),
    "multifamily": re.compile(r"multi-?family", re.I),
    "credit_card": re.compile(r"credit cards?", re.I),
}
MERGER_RE = re.compile(
    r"\b(?:completed|consummated|closed)\s+(?:its\s+|the\s+|our\s+)?(?:previously announced\s+)?"
    r"(?:merger|acquisition)\b",
    re.I,
)
NUMBER_TOKEN_RE = re.compile(r"\d[\d,.]*")
SHINGLE_TOKEN_RE = re.compile(r"[a-z]+|#")
MAX_SHINGLE_TOKENS = 20_000


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
    text = note.text
    prose = note.prose
    tables = note.tables
    roll_forward = any(all(p.search(_table_text(t)) for p in ROLLFORWARD_TABLE_RE) for t in tables)
    aging = bool(PAST_DUE_RE.search(text) and AGING_BUCKET_RE.search(text))
    inputs = bool(
        REASONABLE_RE.search(text) or (FORECAST_RE.search(text) and MACRO_RE.search(text))
    )
    cqi_terms = {m.group(0).lower() for m in CQI_RE.finditer(text)}
    cqi = len(cqi_terms) >= 2 or "fico" in cqi_terms
    segments = tuple(name for name, rx in SEGMENT_RES.items() if rx.search(text))
    reconciled = None
    if note.balance_sheet_acl is not None:
        target = abs(note.balance_sheet_acl)
        numbers = [parse_number(c) for t in tables for r in t for c in r]
        numbers += [parse_number(m.group(0)) for m in NUMBER_TOKEN_RE.finditer(prose)]
        reconciled = any(v is not None and abs(abs(v) - target) < 0.5 for v in numbers)
    return ContentFlags(
        methodology=bool(METHODOLOGY_RE.search(text)),
        roll_forward=roll_forward,
        aging=aging,
        collateral_dependent=bool(COLLATERAL_RE.search(text)),
        inputs_forecast=inputs,
        credit_quality=cqi,
        risk_characteristics=bool(RISK_CHAR_RE.search(text)),
        segments=segments,
        cross_references=len(CROSS_REF_RE.findall(prose)),
        reconciled=reconciled,
    )


def note_shingles(text: str) -> frozenset[int]:
    """Word-bigram shingles with numbers masked: quarterly figure updates are not churn."""
    tokens = SHINGLE_TOKEN_RE.findall(NUMBER_TOKEN_RE.sub(" # ", text.lower()))[:MAX_SHINGLE_TOKENS]
    return frozenset(hash((a, b)) for a, b in zip(tokens, tokens[1:], strict=False))


def similarity(prior: frozenset[int], current: frozenset[int]) -> float:
    """Jaccard similarity of shingle sets, 1.0 for two empty notes."""
    if not prior and not current:
        return 1.0
    return len(prior & current) / len(prior | current)


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
    text = note.prose
    if MERGER_RE.search(text):
        return True
    if report_date is None:
        return False
    adopted = find_adoption_date(text)
    if adopted is None:
        return False
    report = pd.Timestamp(report_date)
    return report - pd.Timedelta(days=366) < adopted <= report


def score_note(
    note: CeclNote,
    prior: CeclNote | frozenset[int] | None = None,
    *,
    one_off_event: bool | None = None,
    report_date=None,
) -> RubricResult:
    """Score one note under rubric cnoi-1. `prior` is the bank's previous note (or its shingles)."""
    if note.located_by == "none":
        raise NoteUnscorable("CECL note not located (no qualifying heading and no snippet)")
    prose = note.prose
    tables = note.tables
    prose_tokens = len(prose.split())
    table_tokens = sum(len(_table_text(t).split()) for t in tables)
    if prose_tokens + table_tokens == 0:
        raise NoteUnscorable("CECL note located but empty")

    flags = detect_content(note)
    read = readability(prose)
    pens: list[Penalty] = []

    def add(dim: str, reason: str, points: float) -> None:
        if points > 0:
            pens.append(Penalty(dim, reason, float(points)))

    # D discoverability
    if note.located_by == "fallback":
        add("D", "fallback_location", 40)
    add("D", f"cross_references_{flags.cross_references}", min(20, 4 * flags.cross_references))
    add("D", "distance_from_statements", 30 * note.distance_share)
    # G granularity
    if not flags.roll_forward:
        add("G", "missing_roll_forward", 12)
    if not flags.aging:
        add("G", "missing_aging", 8)
    if not flags.credit_quality:
        add("G", "missing_credit_quality_indicators", 10)
    if len(flags.segments) < 3:
        add("G", f"segments_{len(flags.segments)}_lt_3", 20)
    # R required items (ASC 326-20-50)
    for present, reason, points in (
        (flags.methodology, "missing_methodology", 15),
        (flags.roll_forward, "missing_roll_forward", 15),
        (flags.aging, "missing_aging", 10),
        (flags.collateral_dependent, "missing_collateral_dependent", 10),
        (flags.inputs_forecast, "missing_inputs_forecast", 10),
        (flags.credit_quality, "missing_credit_quality_indicators", 10),
        (flags.risk_characteristics, "missing_risk_characteristics", 10),
    ):
        if not present:
            add("R", reason, points)
    # J readability
    if math.isnan(read.fk_grade):
        pens.append(Penalty("J", "no_prose", 0.0))
    else:
        add("J", "fk_grade_above_8", min(100.0, max(0.0, 5 * (read.fk_grade - 8))))
    # T table density
    words = prose_tokens + table_tokens
    if table_tokens / words < 0.20:
        add("T", "table_share_below_20pct", 15)
    if note.n_tables / (words / 1000.0) < 1.0:
        add("T", "under_1_table_per_1000_words", 10)
    numberless = sum(
        not any(parse_number(c) is not None for r in t for c in r[1:] or r) for t in tables
    )
    if tables and numberless * 2 > len(tables):
        add("T", "tables_without_numbers", 15)
    if not tables and note.n_images > 0:
        add("T", "tables_only_images", 30)
    # S stability
    if one_off_event is None:
        one_off_event = detect_one_off(note, report_date)
    sim = None
    if prior is None:
        add("S", "no_prior_note", 10)
    else:
        prior_sh = prior if isinstance(prior, frozenset) else note_shingles(prior.text)
        sim = similarity(prior_sh, note_shingles(note.text))
        churn = 80 * (1 - sim)
        if one_off_event:
            add("S", "churn_vs_prior_halved_one_off", churn / 2)
        else:
            add("S", "churn_vs_prior", churn)
    # X consistency
    if not flags.roll_forward:
        add("X", "missing_roll_forward", 15)
    if not flags.credit_quality:
        add("X", "missing_credit_quality_indicators", 10)
    if flags.reconciled is None:
        add("X", "no_balance_sheet_total", 8)
    elif not flags.reconciled:
        add("X", "totals_not_reconciled", 8)

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
