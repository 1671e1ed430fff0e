"""Import precomputed CNOI scores in the seed project's CSV layout (METHODS.md section 1).

Required: `cik, accession, form, filing_date, CNOI, D, G, R, J, T, S, X`; optional:
`issuer, penalty_reasons, heading_selected_title, heading_selected_score`; any other
column is kept by name (as `csv_<name>` where `disclosure.cnoi_scores` has a column of
that name, e.g. `status`). `score` may duplicate `CNOI`. Filing dates follow the price files' rule
(`prices.parse_dates`: ISO 8601, offsets converted to the exchange date, YYYYMMDD, and
d/m/y or m/d/y only when the file proves which). Errors name the file, the CSV line and
the column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...cnoi.rubric import RUBRIC_VERSION
from .prices import PriceFileError, parse_dates

SCORE_COLS = ["CNOI", "D", "G", "R", "J", "T", "S", "X"]
REQUIRED = ["cik", "accession", "form", "filing_date", *SCORE_COLS]
OPTIONAL = ["issuer", "penalty_reasons", "heading_selected_title", "heading_selected_score"]


class CnoiCsvError(ValueError):
    pass


def _line(idx: int) -> int:
    # CSV line number: line 1 is the header.
    return int(idx) + 2


def _dates(raw: pd.DataFrame, column: str, source: str) -> pd.Series:
    try:
        dates = parse_dates(raw[column], source, column, csv=True)
    except PriceFileError as exc:
        raise CnoiCsvError(str(exc)) from exc
    dates.index = raw.index
    return dates


def _optional_dates(raw: pd.DataFrame, column: str, source: str) -> pd.Series:
    """Blank stays missing; a value follows the same rule as `filing_date`."""
    if column not in raw.columns:
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    text = raw[column].fillna("").astype(str).str.strip()
    # An ISO placeholder keeps row numbers in errors and adds no evidence about d/m order.
    dates = _dates(raw.assign(**{column: text.replace("", "1900-01-01")}), column, source)
    return dates.where(text != "")


def read_cnoi_csv(path: str | Path) -> pd.DataFrame:
    """Validated scores in the `disclosure.cnoi_scores` layout (lower-case dimension columns)."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CnoiCsvError(f"{path}: not a readable CSV: {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise CnoiCsvError(f"{path}: empty file") from exc
    return validate_cnoi_frame(raw, source=str(path))


def validate_cnoi_frame(raw: pd.DataFrame, *, source: str = "<frame>") -> pd.DataFrame:
    raw = raw.copy()
    raw.columns = [str(c).strip() for c in raw.columns]
    # DuckDB column names ignore case: `Note` and `note` would collide in the table.
    folded = pd.Series([c.lower() for c in raw.columns])
    clash = sorted({c for c, f in zip(raw.columns, folded, strict=True) if (folded == f).sum() > 1})
    if clash:
        raise CnoiCsvError(
            f"{source}: columns {', '.join(clash)} differ only in case (column names must be unique)"
        )
    # Case-insensitive match of the layout's column names; other columns keep their names.
    canonical = {c.lower(): c for c in REQUIRED + OPTIONAL + ["score"]}
    rename = {c: canonical[c.lower()] for c in raw.columns if c.lower() in canonical}
    raw = raw.rename(columns=rename)
    if "CNOI" not in raw.columns and "score" in raw.columns:
        raw["CNOI"] = raw["score"]
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise CnoiCsvError(f"{source}: missing required column(s): {', '.join(missing)}")
    if raw.empty:
        raise CnoiCsvError(f"{source}: no rows")

    for col in ("cik", "accession", "form", "filing_date"):
        blank = raw[col].str.strip() == ""
        if blank.any():
            idx = raw.index[blank][0]
            raise CnoiCsvError(f"{source}: line {_line(idx)}, column {col}: empty value")

    cik = raw["cik"].str.strip()
    bad = ~cik.str.fullmatch(r"\d{1,10}")
    if bad.any():
        idx = raw.index[bad][0]
        raise CnoiCsvError(
            f"{source}: line {_line(idx)}, column cik: not a CIK: {raw.at[idx, 'cik']!r}"
        )

    acc = raw["accession"].str.strip()
    dup = acc.duplicated(keep=False)
    if dup.any():
        first = acc[dup].iloc[0]
        lines = [_line(i) for i in raw.index[acc == first]]
        raise CnoiCsvError(
            f"{source}: column accession: duplicate accession {first!r} on lines {', '.join(map(str, lines))}"
        )

    dates = _dates(raw, "filing_date", source)

    scores = {}
    numeric_cols = SCORE_COLS + [c for c in ("score", "heading_selected_score") if c in raw.columns]
    for col in numeric_cols:
        text = raw[col].str.strip()
        values = pd.to_numeric(text, errors="coerce")
        allowed_blank = col == "heading_selected_score"
        bad = values.isna() & ~(allowed_blank & (text == ""))
        if bad.any():
            idx = raw.index[bad][0]
            raise CnoiCsvError(
                f"{source}: line {_line(idx)}, column {col}: not a number: {raw.at[idx, col]!r}"
            )
        if col in SCORE_COLS or col == "score":
            out = (values < 0) | (values > 100)
            if out.any():
                idx = raw.index[out][0]
                raise CnoiCsvError(
                    f"{source}: line {_line(idx)}, column {col}: {values[idx]} is outside 0..100"
                )
        scores[col] = values.astype(float)
    if "score" in raw.columns:
        differ = ~np.isclose(scores["score"], scores["CNOI"], atol=1e-6)
        if differ.any():
            idx = raw.index[differ][0]
            raise CnoiCsvError(
                f"{source}: line {_line(idx)}, column score: {scores['score'][idx]} does not duplicate CNOI {scores['CNOI'][idx]}"
            )

    out = pd.DataFrame(
        {
            "cik": cik.str.zfill(10),
            "ticker": raw["ticker"].str.strip() if "ticker" in raw.columns else None,
            "accession": acc,
            "form": raw["form"].str.strip(),
            "filing_date": dates.dt.normalize(),
            "report_date": _optional_dates(raw, "report_date", source),
            "cnoi": scores["CNOI"],
        }
    )
    for dim in SCORE_COLS[1:]:
        out[dim.lower()] = scores[dim]
    out["penalty_reasons"] = raw["penalty_reasons"] if "penalty_reasons" in raw.columns else None
    out["rubric_version"] = (
        raw["rubric_version"].replace("", RUBRIC_VERSION)
        if "rubric_version" in raw.columns
        else RUBRIC_VERSION
    )
    out["located_by"] = "imported"
    out["heading_selected_title"] = (
        raw["heading_selected_title"] if "heading_selected_title" in raw.columns else None
    )
    out["heading_selected_score"] = scores.get("heading_selected_score", np.nan)
    out["issuer"] = raw["issuer"] if "issuer" in raw.columns else None
    out["status"] = "ok"
    out["reason"] = None
    handled = set(REQUIRED + OPTIONAL + ["score", "ticker", "report_date", "rubric_version"])
    taken = {c.lower() for c in out.columns}
    for col in raw.columns:
        if col in handled:
            continue
        # The table's own `status`, `reason`, ... mean this pipeline's; the file's keep a prefix.
        name = f"csv_{col}" if col.lower() in taken else col
        out[name] = raw[col]
    return out.reset_index(drop=True)


WEIGHTS = {"d": 0.2, "g": 0.2, "r": 0.2, "j": 0.1, "t": 0.1, "s": 0.1, "x": 0.1}
# Electronic filing on EDGAR began in 1993; an earlier filing date is a misread date.
FIRST_FILING_DATE = pd.Timestamp("1993-01-01")


def import_problems(
    scores: pd.DataFrame, tolerance: float, today: pd.Timestamp | None = None
) -> dict[str, list[str]]:
    """Rows of an imported `disclosure.cnoi_scores` table that should not reach research.

    METHODS 1: every score lies in 0..100 and CNOI = 0.2 D + 0.2 G + 0.2 R + 0.1 (J + T +
    S + X); ``tolerance`` (index points) allows for scores rounded in the file. Filing
    dates must be known (present, from 1993 to ``today``) and not before the report date;
    accessions unique. Each problem lists `accession: detail` strings, first rows first.
    """
    today = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today)
    frame = scores.reset_index(drop=True)
    ok = frame["status"].eq("ok") if "status" in frame.columns else pd.Series(True, frame.index)
    values = frame[["cnoi", *WEIGHTS]].apply(pd.to_numeric, errors="coerce")
    acc = frame["accession"].astype(str)
    problems: dict[str, list[str]] = {}

    outside = ok & (values.isna() | (values < 0) | (values > 100)).any(axis=1)
    problems["scores_outside_0_100"] = [
        f"{acc[i]}: "
        + ", ".join(
            f"{c}={values.at[i, c]}" for c in values.columns if not 0 <= values.at[i, c] <= 100
        )
        for i in frame.index[outside]
    ]
    weighted = sum(w * values[d] for d, w in WEIGHTS.items())
    gap = (values["cnoi"] - weighted).abs()
    inconsistent = ok & ~outside & (gap > tolerance)
    problems["cnoi_not_weighted_dimensions"] = [
        f"{acc[i]}: cnoi {values.at[i, 'cnoi']:g} vs weighted dimensions {weighted[i]:.3f}"
        for i in frame.index[inconsistent]
    ]
    filed = pd.to_datetime(frame["filing_date"], errors="coerce")
    reported = (
        pd.to_datetime(frame["report_date"], errors="coerce")
        if "report_date" in frame.columns
        else pd.Series(pd.NaT, index=frame.index)
    )
    unknown = filed.isna() | (filed < FIRST_FILING_DATE) | (filed > today)
    early = ~unknown & reported.notna() & (reported > filed)
    problems["unknown_filing_dates"] = [
        f"{acc[i]}: filing_date "
        + (str(filed[i].date()) if pd.notna(filed[i]) else repr(frame.at[i, "filing_date"]))
        + (
            f" is before report_date {reported[i].date()}"
            if early[i]
            else " is missing"
            if pd.isna(filed[i])
            else f" is outside {FIRST_FILING_DATE.date()}..{today.date()}"
        )
        for i in frame.index[unknown | early]
    ]
    dup = acc.duplicated(keep=False)
    problems["duplicate_accessions"] = [
        f"{a}: {n} rows" for a, n in acc[dup].value_counts(sort=False).items()
    ]
    return problems
