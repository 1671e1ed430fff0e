"""Import precomputed CNOI scores in the seed project's CSV layout (METHODS.md section 1).

Required: `cik, accession, form, filing_date, CNOI, D, G, R, J, T, S, X`; optional:
`issuer, penalty_reasons, heading_selected_title, heading_selected_score`; any other
column is kept. `score` may duplicate `CNOI`. Errors name the file, the CSV line and
the column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...cnoi.rubric import RUBRIC_VERSION

SCORE_COLS = ["CNOI", "D", "G", "R", "J", "T", "S", "X"]
REQUIRED = ["cik", "accession", "form", "filing_date", *SCORE_COLS]
OPTIONAL = ["issuer", "penalty_reasons", "heading_selected_title", "heading_selected_score"]


class CnoiCsvError(ValueError):
    pass


def _line(idx: int) -> int:
    # CSV line number: line 1 is the header.
    return int(idx) + 2


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

    dates = pd.to_datetime(raw["filing_date"].str.strip(), errors="coerce", format="mixed")
    if dates.isna().any():
        idx = raw.index[dates.isna()][0]
        raise CnoiCsvError(
            f"{source}: line {_line(idx)}, column filing_date: cannot parse date {raw.at[idx, 'filing_date']!r}"
        )

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
            "report_date": pd.to_datetime(raw["report_date"], errors="coerce")
            if "report_date" in raw.columns
            else pd.NaT,
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
    for col in raw.columns:
        if col not in handled and col not in out.columns:
            out[col] = raw[col]
    return out.reset_index(drop=True)
