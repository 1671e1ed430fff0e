"""CECL adoption dates: parsed from ASU 2016-13 / Topic 326 adoption sentences,
falling back to the METHODS.md section 6 rule, overridden by a user table."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

import pandas as pd

from .readability import split_sentences

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
DATE_RE = re.compile(
    rf"\b(?:{MONTHS})\s+\d{{1,2}},?\s+\d{{4}}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{4}}\b", re.I
)
STANDARD_RE = re.compile(
    r"ASU\s+(?:No\.\s*)?2016-13|Topic\s+326|ASC\s+326|\bCECL\b|current expected credit loss",
    re.I,
)
# Every STANDARD_RE match holds one of these in `text.lower()`: under re.I only i, k and s
# also match non-ASCII letters, and the words avoid them (see extract.FALLBACK_KEY_WORDS).
STANDARD_WORDS = ("2016-13", "326", "cecl", "current expected cred")
# STANDARD_RE for lower-cased text: without re.I the engine scans several times faster.
# Same matches unless the text holds one of the letters re.I pairs with i or s.
STANDARD_LOWER_RE = re.compile(
    r"asu\s+(?:no\.\s*)?2016-13|topic\s+326|asc\s+326|\bcecl\b|current expected credit loss"
)
_RE_I_ODD = ("\u0130", "\u0131", "\u017f")
ADOPTED_RE = re.compile(r"\b(?:adopted|adoption of|implemented|became effective)\b", re.I)
FUTURE_RE = re.compile(
    r"\b(?:will adopt|expects? to adopt|plans? to adopt|is required to adopt|not yet adopted|"
    r"has not adopted|will be effective|is effective for|are effective for|delay(?:ed)? the adoption)\b",
    re.I,
)
RULE_LARGE = "2020Q1"
RULE_OTHER = "2023Q1"


def names_standard(text: str) -> bool:
    """``STANDARD_RE.search(text)``, skipped (a re.I scan of the whole text) when no word of
    it is there."""
    low = text.lower()
    if not any(w in low for w in STANDARD_WORDS):
        return False
    if text.isascii() or not any(c in text for c in _RE_I_ODD):
        return STANDARD_LOWER_RE.search(low) is not None
    return STANDARD_RE.search(text) is not None


def _sentences(text: str) -> Iterable[str]:
    # Only paragraphs naming the standard and an adoption are split (splitting is the slow part).
    for para in text.split("\n"):
        if names_standard(para) and ADOPTED_RE.search(para):
            for sentence in split_sentences(" ".join(para.split())):
                yield from (part for part in sentence.split(";") if part.strip())


# Filings restate the same few dates every quarter; strptime is the slow part.
@lru_cache(maxsize=4096)
def _parse_date(raw: str) -> pd.Timestamp | None:
    cleaned = " ".join(raw.replace(",", " ").split())
    for fmt in ("%B %d %Y", "%m/%d/%Y"):
        try:
            return pd.Timestamp(datetime.strptime(cleaned, fmt))
        except ValueError:
            continue
    return None


def find_adoption_date(text: str) -> pd.Timestamp | None:
    """The CECL adoption date stated in past tense in `text`, or None.

    Dates that follow "after" (effective-date language such as "fiscal years beginning
    after December 15, 2022") and forward-looking sentences are ignored.
    """
    # No whole-text check for the standard first: every paragraph is checked, and a
    # paragraph naming it makes the whole text name it.
    if not text:
        return None
    for sentence in _sentences(text):
        if not (names_standard(sentence) and ADOPTED_RE.search(sentence)):
            continue
        if FUTURE_RE.search(sentence):
            continue
        for m in DATE_RE.finditer(sentence):
            before = sentence[max(0, m.start() - 7) : m.start()].lower()
            if "after" in before or "ended" in before:
                continue
            parsed = _parse_date(m.group(0))
            if parsed is not None:
                return parsed
    return None


TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}


def filer_status(value) -> bool | None:
    """Smaller-reporting-company status as True/False, or None when it is not known.

    Missing values of every kind (None, NaN, pd.NA, empty text) are unknown: ``bool()``
    of them would silently decide a bank's adoption quarter (METHODS section 6).
    """
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"smaller_reporting_company: not a yes/no value {value!r}")
    if pd.isna(value):
        return None
    if value in (0, 1):
        return bool(value)
    raise ValueError(f"smaller_reporting_company: not a yes/no value {value!r}")


def rule_adoption_quarter(smaller_reporting_company) -> str | None:
    """METHODS.md section 6: SEC filers that are not SRCs adopt in 2020Q1, others in
    2023Q1; None (unknown quarter) when the filer status is unknown."""
    status = filer_status(smaller_reporting_company)
    if status is None:
        return None
    return RULE_OTHER if status else RULE_LARGE


def adoption_table(
    banks: pd.DataFrame,
    parsed: pd.DataFrame | None = None,
    overrides: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per bank: `cik, adoption_date, adoption_quarter, source
    (filing|rule|override|unknown)`.

    `parsed` has `cik, adoption_date` (one or more dates per bank from its filings; the
    earliest wins), `overrides` has `cik, adoption_date` and beats everything. A bank with
    neither and an unknown filer status keeps an unknown date (NaT, quarter None,
    source "unknown"); the DiD excludes and counts it.
    """
    out = banks[["cik", "smaller_reporting_company"]].drop_duplicates("cik").copy()
    out["cik"] = out["cik"].astype(str).str.zfill(10)
    rule_q = [rule_adoption_quarter(v) for v in out["smaller_reporting_company"]]
    out["adoption_date"] = pd.to_datetime(
        [pd.Period(q, freq="Q").start_time if q else pd.NaT for q in rule_q]
    )
    out["source"] = ["rule" if q else "unknown" for q in rule_q]
    for frame, source in ((parsed, "filing"), (overrides, "override")):
        if frame is None or frame.empty:
            continue
        dates = frame.assign(
            cik=frame["cik"].astype(str).str.zfill(10),
            adoption_date=pd.to_datetime(frame["adoption_date"]),
        ).dropna(subset=["adoption_date"])
        first = dates.groupby("cik")["adoption_date"].min()
        hit = out["cik"].isin(first.index)
        out.loc[hit, "adoption_date"] = out.loc[hit, "cik"].map(first).to_numpy()
        out.loc[hit, "source"] = source
    out["adoption_date"] = pd.to_datetime(out["adoption_date"]).dt.normalize()
    quarter = out["adoption_date"].dt.to_period("Q")
    out["adoption_quarter"] = quarter.astype(str).where(quarter.notna(), None)
    return out[["cik", "adoption_date", "adoption_quarter", "source"]].reset_index(drop=True)


def read_overrides(path) -> pd.DataFrame:
    """`cecl_adoption.csv` (`cik, adoption_date`), with errors naming file, row and column."""
    frame = pd.read_csv(path, dtype=str)
    missing = [c for c in ("cik", "adoption_date") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing required column(s) {', '.join(missing)}")
    dates = pd.to_datetime(frame["adoption_date"], errors="coerce", format="mixed")
    for idx in frame.index[dates.isna()]:
        raise ValueError(
            f"{path}: row {idx + 2}, column adoption_date: cannot parse date {frame.at[idx, 'adoption_date']!r}"
        )
    ciks = frame["cik"].str.strip()
    for idx in frame.index[~ciks.fillna("").str.fullmatch(r"\d{1,10}")]:
        raise ValueError(f"{path}: row {idx + 2}, column cik: not a CIK {frame.at[idx, 'cik']!r}")
    return pd.DataFrame({"cik": ciks.str.zfill(10), "adoption_date": dates.dt.normalize()})
