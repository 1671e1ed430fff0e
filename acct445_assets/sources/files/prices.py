"""Validation of user price files and of price frames from any source.

Dates must be unambiguous (see `parse_dates`); every refusal names the file, the row
(the line a person sees in an editor, header = line 1) and the column.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

REQUIRED = ("date", "ticker", "adj_close")
OPTIONAL = ("volume", "shares_outstanding", "delisted")
NUMERIC = (
    "adj_close",
    "volume",
    "shares_outstanding",
    "close",
    "dividend",
    "split_ratio",
    "ret",
    "delisting_return",
)
EXCHANGE_TZ = "America/New_York"
# yfinance exports (`Ticker.history().to_csv()`, `download().stack().to_csv()`) use these names.
ALIASES = {
    "adj close": "adj_close",
    "adjclose": "adj_close",
    "adjusted_close": "adj_close",
    "dividends": "dividend",
    "stock splits": "split_ratio",
    "stock_splits": "split_ratio",
    "symbol": "ticker",
    "datetime": "date",
    "shares": "shares_outstanding",
}

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_YMD_INT = re.compile(r"^\d{8}(\.0+)?$")
_SLASHED = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$")


class PriceFileError(ValueError):
    pass


def _row(frame: pd.DataFrame, pos: int, csv: bool) -> int:
    return pos + 2 if csv else pos + 1


def normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    names = [str(c).strip().lower() for c in frame.columns]
    return frame.set_axis([ALIASES.get(n, n.replace(" ", "_")) for n in names], axis=1)


def parse_dates(values: pd.Series, name: str, column: str = "date", csv: bool = True) -> pd.Series:
    """Exchange dates (naive, midnight) from an unambiguous date column.

    Accepted: ISO 8601 dates and timestamps; timestamps with a UTC offset (as yfinance
    exports them) are converted to the America/New_York date; YYYYMMDD integers; and
    d/m/y or m/d/y only when the file itself proves which (a field above 12). Anything
    else is refused naming the first offending row.
    """
    values = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert(EXCHANGE_TZ).dt.tz_localize(None)
        out = values.dt.normalize()
        _refuse_missing(out, values, name, column, csv)
        return out
    text = values.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    ymd = text.str.fullmatch(_YMD_INT.pattern).fillna(False)
    iso = text.str.fullmatch(_ISO.pattern).fillna(False)
    slashed = text.str.extract(_SLASHED.pattern)
    is_slashed = slashed[0].notna()
    if ymd.any():
        out[ymd] = pd.to_datetime(text[ymd].str[:8], format="%Y%m%d", errors="coerce")
    if iso.any():
        with_offset = iso & text.str.contains(_OFFSET.pattern, regex=True).fillna(False)
        plain = iso & ~with_offset
        if plain.any():
            out[plain] = pd.to_datetime(text[plain].str[:10], format="%Y-%m-%d", errors="coerce")
        if with_offset.any():
            stamps = pd.to_datetime(text[with_offset], utc=True, errors="coerce", format="ISO8601")
            out[with_offset] = stamps.dt.tz_convert(EXCHANGE_TZ).dt.tz_localize(None).dt.normalize()
    if is_slashed.any():
        first = slashed[0].astype(float)
        second = slashed[1].astype(float)
        day_first, month_first = (first > 12).any(), (second > 12).any()
        if day_first == month_first:
            pos = int(np.flatnonzero(is_slashed.to_numpy())[0])
            why = "both day-first and month-first" if day_first else "day-first or month-first"
            raise PriceFileError(
                f"{name}: row {_row(values.to_frame(), pos, csv)}, column {column}: ambiguous date"
                f" {text.iloc[pos]!r} (the file's dates could be {why}); write dates as ISO 8601"
                " (YYYY-MM-DD)"
            )
        day, month = (first, second) if day_first else (second, first)
        year = slashed[2].astype(float)
        year = year.where(year >= 100, year + 2000)
        parts = pd.DataFrame({"year": year, "month": month, "day": day})[is_slashed]
        out[is_slashed] = pd.to_datetime(parts, errors="coerce")
    _refuse_missing(out, values, name, column, csv)
    return out


def _refuse_missing(out, values, name, column, csv) -> None:
    bad = np.flatnonzero(out.isna().to_numpy())
    if len(bad):
        raise PriceFileError(
            f"{name}: row {_row(values.to_frame(), bad[0], csv)}, column {column}: unparseable"
            f" date {values.iloc[bad[0]]!r} (use ISO 8601, YYYY-MM-DD)"
        )


def read_table(path: Path) -> tuple[pd.DataFrame, bool]:
    csv = path.suffix.lower() == ".csv"
    try:
        frame = (
            pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            if csv
            else duckdb.connect().execute("select * from read_parquet(?)", [str(path)]).df()
        )
    except Exception as exc:  # noqa: BLE001 - any reader failure becomes a file-level error
        raise PriceFileError(f"{path}: cannot be read: {exc}") from exc
    return normalise_columns(frame), csv


def read_price_file(path: Path) -> pd.DataFrame:
    frame, csv = read_table(path)
    return validate_prices(frame, str(path), csv=csv)


def validate_prices(frame: pd.DataFrame, name: str, csv: bool = True) -> pd.DataFrame:
    frame = normalise_columns(frame)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise PriceFileError(
            f"{name}: missing required column(s) {missing}; found {list(frame.columns)}"
        )
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise PriceFileError(f"{name}: no price rows (header only)")
    dates = parse_dates(frame["date"], name, "date", csv)
    tickers = frame["ticker"].astype("string").str.strip().str.upper()
    bad = np.flatnonzero((tickers.isna() | (tickers == "")).to_numpy())
    if len(bad):
        raise PriceFileError(f"{name}: row {_row(frame, bad[0], csv)}, column ticker: empty ticker")
    numeric = {}
    for col in NUMERIC:
        if col not in frame.columns:
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero((values.isna() & frame[col].notna()).to_numpy())
        if len(bad):
            raise PriceFileError(
                f"{name}: row {_row(frame, bad[0], csv)}, column {col}: not a number: {frame[col].iloc[bad[0]]!r}"
            )
        numeric[col] = values.astype(float)
    close = numeric["adj_close"]
    bad = np.flatnonzero(close.isna().to_numpy())
    if len(bad):
        raise PriceFileError(
            f"{name}: row {_row(frame, bad[0], csv)}, column adj_close: missing price"
        )
    for col in ("adj_close", "close"):
        if col not in numeric:
            continue
        bad = np.flatnonzero((numeric[col] <= 0).to_numpy())
        if len(bad):
            raise PriceFileError(
                f"{name}: row {_row(frame, bad[0], csv)}, column {col}: price must be positive, got {float(frame[col].iloc[bad[0]])}"
            )
    out = pd.DataFrame({"date": dates, "ticker": tickers.astype(str), "adj_close": close})
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
    out["close"] = numeric.get("close", np.nan)
    out["dividend"] = numeric.get("dividend", pd.Series(0.0, index=out.index)).fillna(0.0)
    # yfinance writes 0 for "no split"; the contract's neutral value is 1.
    split = numeric.get("split_ratio", pd.Series(1.0, index=out.index))
    out["split_ratio"] = split.where(split > 0, 1.0).fillna(1.0)
    out["ret"] = numeric.get("ret", np.nan)
    out["delisting_return"] = numeric.get("delisting_return", np.nan)
    dup = out.duplicated(["date", "ticker"])
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        raise PriceFileError(
            f"{name}: row {_row(frame, pos, csv)}, columns date+ticker: duplicate ({out['date'].iloc[pos].date()}, {out['ticker'].iloc[pos]})"
        )
    out = out.sort_values(["ticker", "date"]).reset_index(drop=True)
    # Shares are known from their own date onward: carried forward, never back.
    out["shares_outstanding"] = out.groupby("ticker")["shares_outstanding"].ffill()
    return out


def apply_shares(prices: pd.DataFrame, shares: pd.DataFrame) -> pd.DataFrame:
    """Attach shares outstanding dated by when they became known (as-of, backward only)."""
    prices = prices.sort_values("date").reset_index(drop=True)
    shares = shares.sort_values("date")
    merged = pd.merge_asof(
        prices.drop(columns="shares_outstanding"),
        shares.rename(columns={"shares_outstanding": "_shares"}),
        on="date",
        by="ticker",
        direction="backward",
    )
    merged["shares_outstanding"] = prices["shares_outstanding"].where(
        prices["shares_outstanding"].notna(), merged["_shares"]
    )
    return merged.drop(columns="_shares").sort_values(["ticker", "date"]).reset_index(drop=True)


def read_shares_file(path: Path) -> pd.DataFrame:
    """`date, ticker, shares_outstanding`: each value known from its own date."""
    frame, csv = read_table(path)
    missing = [c for c in ("date", "ticker", "shares_outstanding") if c not in frame.columns]
    if missing:
        raise PriceFileError(f"{path}: missing required column(s) {missing}")
    values = pd.to_numeric(frame["shares_outstanding"], errors="coerce")
    bad = np.flatnonzero((values.isna() | (values <= 0)).to_numpy())
    if len(bad):
        raise PriceFileError(
            f"{path}: row {_row(frame, bad[0], csv)}, column shares_outstanding: must be a"
            f" positive number, got {float(frame['shares_outstanding'].iloc[bad[0]])}"
        )
    return pd.DataFrame(
        {
            "date": parse_dates(frame["date"], str(path), "date", csv),
            "ticker": frame["ticker"].astype(str).str.strip().str.upper(),
            "shares_outstanding": values.astype(float),
        }
    )


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
    out = pd.DataFrame(
        {"cik": cik.str.zfill(10), "ticker": frame["ticker"].str.strip().str.upper()}
    ).drop_duplicates()
    clash = out["ticker"].duplicated(keep=False)
    if clash.any():
        ticker = out.loc[clash, "ticker"].iloc[0]
        rows = [int(i) + 2 for i in out.index[out["ticker"] == ticker]]
        ciks = out.loc[out["ticker"] == ticker, "cik"].tolist()
        raise PriceFileError(
            f"{path}: rows {rows}, column ticker: {ticker} is mapped to {len(ciks)} CIKs {ciks};"
            " a ticker must map to one CIK"
        )
    return out
