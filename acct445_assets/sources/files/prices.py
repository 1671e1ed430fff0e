"""Validation of user price files and of price frames from any source."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

REQUIRED = ("date", "ticker", "adj_close")
OPTIONAL = ("volume", "shares_outstanding", "delisted")


class PriceFileError(ValueError):
    pass


def _row(frame: pd.DataFrame, pos: int, csv: bool) -> int:
    # Report the line a person sees in an editor: header is line 1 in a CSV.
    return pos + 2 if csv else pos + 1


def read_price_file(path: Path) -> pd.DataFrame:
    csv = path.suffix.lower() == ".csv"
    try:
        frame = (
            pd.read_csv(path, dtype={"ticker": str}, keep_default_na=False, na_values=[""])
            if csv
            else duckdb.connect().execute("select * from read_parquet(?)", [str(path)]).df()
        )
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes a file-level error
        raise PriceFileError(f"{path}: cannot be read: {exc}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return validate_prices(frame, str(path), csv=csv)


def validate_prices(frame: pd.DataFrame, name: str, csv: bool = True) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise PriceFileError(
            f"{name}: missing required column(s) {missing}; found {list(frame.columns)}"
        )
    frame = frame.reset_index(drop=True)
    dates = pd.to_datetime(frame["date"], errors="coerce", format="mixed")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        raise PriceFileError(
            f"{name}: row {_row(frame, bad[0], csv)}, column date: unparseable date {frame['date'].iloc[bad[0]]!r}"
        )
    tickers = frame["ticker"].astype("string").str.strip().str.upper()
    bad = np.flatnonzero((tickers.isna() | (tickers == "")).to_numpy())
    if len(bad):
        raise PriceFileError(f"{name}: row {_row(frame, bad[0], csv)}, column ticker: empty ticker")
    numeric = {}
    for col in ("adj_close", "volume", "shares_outstanding"):
        if col not in frame.columns:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero((values.isna() & frame[col].notna()).to_numpy())
        if len(bad):
            raise PriceFileError(
                f"{name}: row {_row(frame, bad[0], csv)}, column {col}: not a number: {frame[col].iloc[bad[0]]!r}"
            )
        numeric[col] = values
    close = numeric["adj_close"]
    bad = np.flatnonzero(close.isna().to_numpy())
    if len(bad):
        raise PriceFileError(
            f"{name}: row {_row(frame, bad[0], csv)}, column adj_close: missing price"
        )
    bad = np.flatnonzero((close <= 0).to_numpy())
    if len(bad):
        raise PriceFileError(
            f"{name}: row {_row(frame, bad[0], csv)}, column adj_close: price must be positive, got {frame['adj_close'].iloc[bad[0]]!r}"
        )
    out = pd.DataFrame(
        {
            "date": dates.dt.tz_localize(None).dt.normalize(),
            "ticker": tickers.astype(str),
            "adj_close": close,
        }
    )
    out["volume"] = numeric.get("volume", np.nan)
    out["shares_outstanding"] = numeric.get("shares_outstanding", np.nan)
    if "delisted" in frame.columns:
        flag = frame["delisted"].map(
            lambda v: (
                str(v).strip().lower() in ("1", "true", "t", "yes", "y") if pd.notna(v) else False
            )
        )
        out["delisted"] = flag.astype(bool)
    else:
        out["delisted"] = False
    dup = out.duplicated(["date", "ticker"])
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise PriceFileError(
            f"{name}: row {_row(frame, pos, csv)}, columns date+ticker: duplicate ({out['date'].iloc[pos].date()}, {out['ticker'].iloc[pos]})"
        )
    return out.sort_values(["ticker", "date"]).reset_index(drop=True)


def read_cik_tickers(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str)
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = [c for c in ("cik", "ticker") if c not in frame.columns]
    if missing:
        raise PriceFileError(f"{path}: missing required column(s) {missing}")
    cik = frame["cik"].str.strip()
    bad = np.flatnonzero((~cik.fillna("").str.fullmatch(r"\d{1,10}")).to_numpy())
    if len(bad):
        raise PriceFileError(
            f"{path}: row {bad[0] + 2}, column cik: not a CIK: {frame['cik'].iloc[bad[0]]!r}"
        )
    return pd.DataFrame(
        {"cik": cik.str.zfill(10), "ticker": frame["ticker"].str.strip().str.upper()}
    )
