"""Yahoo prices through `yfinance`, and the live bank universe (the `live` price source)."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..base import BENCHMARK_TICKERS, UNIVERSE_COLUMNS, PriceBatch

CURATED_UNIVERSE = Path(__file__).resolve().parents[2] / "data" / "live_universe.csv"


def _is_transient(exc: Exception) -> bool:
    name = type(exc).__name__
    return name in {
        "YFRateLimitError",
        "ConnectionError",
        "Timeout",
        "ReadTimeout",
        "ConnectTimeout",
        "HTTPError",
        "TimeoutError",
        "ChunkedEncodingError",
    }


def yahoo_long_frame(wide: pd.DataFrame, tickers: list[str]) -> pd.DataFrame:
    """Reshape `yfinance.download` output (columns MultiIndex (field, ticker)) to long rows.

    Tickers whose rows are all NaN (yfinance's signal for a failed download) drop out.
    """
    if wide is None or wide.empty:
        return pd.DataFrame(columns=["date", "ticker", "adj_close", "volume"])
    if not isinstance(wide.columns, pd.MultiIndex):
        wide.columns = pd.MultiIndex.from_product([wide.columns, tickers[:1]])
    level = 0 if "Close" in wide.columns.get_level_values(0) else 1
    close = wide.xs("Close", axis=1, level=level)
    volume = (
        wide.xs("Volume", axis=1, level=level)
        if "Volume" in wide.columns.get_level_values(level)
        else None
    )
    long = close.stack(future_stack=True).rename("adj_close").to_frame()
    long["volume"] = volume.stack(future_stack=True) if volume is not None else np.nan
    long = long.dropna(subset=["adj_close"]).reset_index()
    long.columns = ["date", "ticker", "adj_close", "volume"]
    long["date"] = pd.to_datetime(long["date"]).dt.tz_localize(None).dt.normalize()
    return long


BANK_SICS = {6021, 6022, 6035, 6036}


def shares_as_of(prices: pd.DataFrame, shares: pd.DataFrame) -> pd.Series:
    """Shares outstanding known on each price date: the latest XBRL value *filed* by then."""
    if shares.empty:
        return pd.Series(np.nan, index=prices.index)
    left = prices[["cik", "date"]].reset_index().sort_values("date")
    right = (
        shares.dropna(subset=["filed", "shares_outstanding"])
        .sort_values("filed")[["cik", "filed", "shares_outstanding"]]
        .rename(columns={"filed": "date"})
    )
    right["date"] = pd.to_datetime(right["date"])
    merged = pd.merge_asof(left, right, on="date", by="cik", direction="backward")
    return merged.set_index("index")["shares_outstanding"].reindex(prices.index)


@dataclass
class YahooPrices:
    """Prices from Yahoo via `yfinance.download` (auto-adjusted), in batches with backoff.

    The universe is a curated list of listed banks (or, with `universe_mode="all"`, every
    EDGAR registrant with a bank SIC code and a listed ticker); CIKs, names, SIC codes and
    shares outstanding come from EDGAR when an `edgar` client is configured.
    """

    tickers: list[str] = field(
        default_factory=list
    )  # empty: the curated list in acct445_assets/data/live_universe.csv
    universe_mode: str = "curated"  # curated | all
    edgar: Any = None  # an EdgarClient
    batch_size: int = 50
    max_retries: int = 5
    backoff_seconds: float = 2.0

    def _curated(self) -> pd.DataFrame:
        frame = pd.read_csv(CURATED_UNIVERSE, dtype=str)
        if self.tickers:
            wanted = [t.upper() for t in self.tickers]
            extra = [t for t in wanted if t not in set(frame["ticker"])]
            frame = pd.concat(
                [frame[frame["ticker"].isin(wanted)], pd.DataFrame({"ticker": extra})]
            )
        return frame.reset_index(drop=True)

    def _profile(self, cik: str) -> dict:
        data = self.edgar.request(f"{self.edgar.data_base_url}/submissions/CIK{cik}.json")
        category = str(data.get("category") or "")
        return {
            "cik": cik,
            "name": data.get("name"),
            "sic": pd.to_numeric(data.get("sic"), errors="coerce"),
            "smaller_reporting_company": "smaller reporting company" in category.lower(),
        }

    def universe(self) -> pd.DataFrame:
        if self.universe_mode not in ("curated", "all"):
            raise ValueError(f"universe_mode={self.universe_mode!r}: use 'curated' or 'all'")
        if self.universe_mode == "all" and self.edgar is None:
            raise ValueError("universe_mode='all' needs an EDGAR client (SEC_USER_AGENT)")
        if self.universe_mode == "all":
            listed = self.edgar.company_tickers().drop_duplicates("cik")
            profiles = pd.DataFrame([self._profile(c) for c in listed["cik"]])
            banks = profiles[profiles["sic"].isin(BANK_SICS)]
            frame = banks.merge(listed[["cik", "ticker"]], on="cik")
        else:
            frame = self._curated()
            cik = frame.get("cik", pd.Series(pd.NA, index=frame.index))
            frame["cik"] = cik.map(
                lambda c: f"{int(c):010d}" if pd.notna(c) and str(c).strip() else pd.NA
            )
            if self.edgar is not None:
                listed = (
                    self.edgar.company_tickers()
                    .drop_duplicates("ticker")
                    .set_index("ticker")["cik"]
                )
                frame["cik"] = frame["ticker"].map(listed).fillna(frame["cik"])
                known = frame["cik"].dropna().unique()
                profiles = (
                    pd.DataFrame([self._profile(c) for c in known])
                    if len(known)
                    else pd.DataFrame(columns=["cik"])
                )
                frame = frame.drop(columns=[c for c in ("name", "sic") if c in frame]).merge(
                    profiles, on="cik", how="left"
                )
            unresolved = frame.loc[frame["cik"].isna(), "ticker"].tolist()
            if unresolved:
                warnings.warn(
                    f"no CIK for {unresolved}: kept for prices, without filings", stacklevel=2
                )
        out = pd.DataFrame(
            {
                "cik": frame["cik"],
                "ticker": frame["ticker"],
                "name": frame["name"] if "name" in frame else frame["ticker"],
                "sic": pd.to_numeric(frame["sic"], errors="coerce") if "sic" in frame else np.nan,
                "smaller_reporting_company": frame.get("smaller_reporting_company", pd.NA),
                "shares_outstanding": np.nan,
                "first_date": pd.NaT,
                "last_date": pd.NaT,
                "delisted": False,
            }
        )
        return out[UNIVERSE_COLUMNS].reset_index(drop=True)

    def provenance(self) -> dict:
        return {}

    def _download(self, batch: list[str], start, end) -> pd.DataFrame:
        import yfinance

        log = logging.getLogger(__name__)
        for attempt in range(self.max_retries + 1):
            try:
                return yfinance.download(
                    batch,
                    start=str(pd.Timestamp(start).date()),
                    end=str((pd.Timestamp(end) + pd.Timedelta(days=1)).date()),
                    auto_adjust=True,
                    group_by="column",
                    progress=False,
                    threads=True,
                )
            except Exception as exc:  # noqa: BLE001 - classify, then retry or re-raise
                if not _is_transient(exc) or attempt == self.max_retries:
                    raise
                wait = self.backoff_seconds * 2**attempt
                log.warning(
                    f"yfinance batch {batch[:3]}... failed ({type(exc).__name__}); retry in {wait:.1f}s"
                )
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _fetch(self, tickers: list[str], start, end) -> PriceBatch:
        frames, missing = [], []
        for i in range(0, len(tickers), self.batch_size):
            batch = tickers[i : i + self.batch_size]
            long = yahoo_long_frame(self._download(batch, start, end), batch)
            frames.append(long)
            missing.extend(sorted(set(batch) - set(long["ticker"])))
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if missing:
            warnings.warn(f"yfinance returned no data for {missing}", stacklevel=2)
        return PriceBatch(frame, missing, {"source": "live", "provider": "yfinance"})

    def prices(self, start, end, tickers, ciks: dict[str, str] | None = None) -> PriceBatch:
        batch = self._fetch(list(tickers), start, end)
        frame = batch.frame
        frame["shares_outstanding"] = np.nan
        frame["delisted"] = False
        if self.edgar is not None and ciks:
            frame["cik"] = frame["ticker"].map(ciks)
            wanted = sorted({c for c in frame["cik"].dropna()})
            shares = (
                pd.concat([self.edgar.shares_outstanding(c) for c in wanted])
                if wanted
                else pd.DataFrame()
            )
            frame["shares_outstanding"] = shares_as_of(frame, shares)
            batch.frame = frame.drop(columns="cik")
        return batch

    def benchmarks(self, start, end) -> pd.DataFrame:
        batch = self._fetch(list(BENCHMARK_TICKERS), start, end)
        if batch.missing:
            raise RuntimeError(f"yfinance returned no data for benchmark(s) {batch.missing}")
        return batch.frame[["date", "ticker", "adj_close"]]
