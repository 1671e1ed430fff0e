"""Market-data resources: factors (Ken French) and prices (Yahoo), each in three sources.

Every implementation of a resource answers the same methods, so assets never know
which source they read and tests can swap in any of them.
"""

from __future__ import annotations

import hashlib
import io
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import ConfigurableResource, get_dagster_logger

from ..params import section
from ..research import kenfrench
from ..research.calendar import trading_days
from ..research.prices import BENCHMARK_TICKERS, PriceFileError, read_cik_tickers, read_price_file
from ..research.sample import FACTOR_COLUMNS, monthly_from_daily
from .edgar import EdgarClient
from .sample_store import load_sample_universe, write_truth

UNIVERSE_COLUMNS = [
    "cik",
    "ticker",
    "name",
    "sic",
    "smaller_reporting_company",
    "shares_outstanding",
    "first_date",
    "last_date",
    "delisted",
]
PRICE_COLUMNS = ["date", "ticker", "cik", "adj_close", "volume", "shares_outstanding", "delisted"]
CURATED_UNIVERSE = Path(__file__).resolve().parent.parent / "data" / "live_universe.csv"
_SAMPLE = section("sample")


@dataclass
class FactorData:
    frame: pd.DataFrame  # index `date`, FACTOR_COLUMNS, percent
    metadata: dict = field(default_factory=dict)


@dataclass
class PriceBatch:
    frame: pd.DataFrame  # PRICE_COLUMNS without cik (assets attach it)
    missing: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


def _finish_factors(frame: pd.DataFrame) -> pd.DataFrame:
    for col in FACTOR_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    out = frame[FACTOR_COLUMNS].astype(float)
    out.index = pd.DatetimeIndex(out.index, name="date")
    return out


class _SampleConfigMixin(ConfigurableResource):
    seed: int = int(_SAMPLE.get("seed", 445))
    n_banks: int = int(_SAMPLE.get("n_banks", 60))
    start: str = str(_SAMPLE.get("start", "2018-01-01"))
    end: str = str(_SAMPLE.get("end", "2025-12-31"))
    sample_dir: str = "data/sample"

    def universe_data(self):
        return load_sample_universe(self.seed, self.n_banks, self.start, self.end)

    def sample_metadata(self) -> dict:
        return {
            "source": "sample",
            "seed": self.seed,
            "n_banks": self.n_banks,
            "period": f"{self.start}..{self.end}",
        }


# ---------------------------------------------------------------- factors


class FactorSource(ConfigurableResource):
    """Fama-French 5 factors (2x3) and momentum, in percent."""

    def load(self, frequency: str) -> FactorData:
        raise NotImplementedError


class SampleFactorSource(FactorSource, _SampleConfigMixin):
    def load(self, frequency: str) -> FactorData:
        u = self.universe_data()
        frame = u.factors_daily if frequency == "daily" else u.factors_monthly
        return FactorData(
            frame.copy(), {**self.sample_metadata(), "vintage": f"sample-seed-{self.seed}"}
        )


class FileFactorSource(FactorSource):
    data_dir: str

    def load(self, frequency: str) -> FactorData:
        folder = Path(self.data_dir) / "factors"
        paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".csv", ".zip", ".txt"))
        if not paths:
            raise FileNotFoundError(f"{folder}: no Ken French factor files (.csv or .zip) found")
        files = [kenfrench.parse_file(p) for p in paths]
        frame = kenfrench.merge_files(files, frequency)
        derived = False
        if frame.empty and frequency == "monthly":
            daily = kenfrench.merge_files(files, "daily")
            if not daily.empty:
                frame, derived = monthly_from_daily(_finish_factors(daily).fillna(0.0)), True
        if frame.empty:
            raise kenfrench.FactorFileError(
                f"{folder}: no {frequency} factor file among {[p.name for p in paths]}"
            )
        missing = [c for c in FACTOR_COLUMNS if c not in frame.columns]
        if {"mkt_rf", "rf"} & set(missing):
            raise kenfrench.FactorFileError(
                f"{folder}: {frequency} files lack required column(s) {missing}"
            )
        used = [f for f in files if f.frequency == frequency] or [
            f for f in files if f.frequency == "daily"
        ]
        return FactorData(
            _finish_factors(frame),
            {
                "source": "files",
                "files": [f.name for f in used],
                "vintage": ",".join(sorted({f.vintage for f in used if f.vintage})) or "unknown",
                "sha256": {Path(f.name).name: f.sha256 for f in used},
                "missing_columns": missing,
                "derived_from_daily": derived,
            },
        )


KEN_FRENCH_DATASETS = {
    "daily": ("F-F_Research_Data_5_Factors_2x3_daily", "F-F_Momentum_Factor_daily"),
    "monthly": ("F-F_Research_Data_5_Factors_2x3", "F-F_Momentum_Factor"),
}


class KenFrenchFactorSource(FactorSource):
    """Ken French's data library through pandas-datareader's downloader.

    pandas-datareader fetches the zip (with its session and retries); the project's own
    parser reads it, because it must record the vintage and SHA-256 of the raw file and
    handle every historical layout.
    """

    base_url: str = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp"
    retry_count: int = 3
    pause: float = 1.0
    timeout: float = 30.0

    def _download(self, dataset: str) -> bytes:
        from pandas_datareader.famafrench import FamaFrenchReader

        base_url = self.base_url

        class _RawReader(FamaFrenchReader):
            @property
            def url(self):
                return f"{base_url}/{self.symbols}_CSV.zip"

        reader = _RawReader(
            dataset, retry_count=self.retry_count, pause=self.pause, timeout=self.timeout
        )
        try:
            return reader._get_response(reader.url).content
        finally:
            reader.close()

    def load(self, frequency: str) -> FactorData:
        files, meta = [], {}
        for dataset in KEN_FRENCH_DATASETS[frequency]:
            raw = self._download(dataset)
            digest = hashlib.sha256(raw).hexdigest()
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                text = zf.read(zf.namelist()[0]).decode("latin-1")
            parsed = kenfrench.parse_text(text, f"{dataset}_CSV.zip", digest)
            files.append(parsed)
            meta[dataset] = {"sha256": digest, "vintage": parsed.vintage}
        frame = kenfrench.merge_files(files, frequency)
        return FactorData(
            _finish_factors(frame),
            {
                "source": "live",
                "files": list(meta),
                "vintage": ",".join(sorted({m["vintage"] for m in meta.values() if m["vintage"]}))
                or "unknown",
                "sha256": {k: v["sha256"] for k, v in meta.items()},
                "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )


# ---------------------------------------------------------------- prices


class PriceSource(ConfigurableResource):
    """Bank universe, daily adjusted closes, and the SPY/KRE benchmarks."""

    def provenance(self) -> dict:
        return {}

    def universe(self) -> pd.DataFrame:
        raise NotImplementedError

    def prices(
        self, start: str, end: str, tickers: list[str], ciks: dict[str, str] | None = None
    ) -> PriceBatch:
        raise NotImplementedError

    def benchmarks(self, start: str, end: str) -> pd.DataFrame:
        raise NotImplementedError


def _between(frame: pd.DataFrame, start, end) -> pd.DataFrame:
    mask = (frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))
    return frame.loc[mask]


class SamplePriceSource(PriceSource, _SampleConfigMixin):
    def provenance(self) -> dict:
        truth = write_truth(self.universe_data(), Path(self.sample_dir))
        return {**self.sample_metadata(), "truth_record": str(truth)}

    def universe(self) -> pd.DataFrame:
        return self.universe_data().banks[UNIVERSE_COLUMNS].copy()

    def prices(self, start, end, tickers, ciks=None) -> PriceBatch:
        frame = self.universe_data().panel.frame(start, end, tickers)
        return PriceBatch(frame.drop(columns="cik"), [], self.sample_metadata())

    def benchmarks(self, start, end) -> pd.DataFrame:
        return _between(self.universe_data().benchmarks, start, end).reset_index(drop=True)


class FilePriceSource(PriceSource):
    data_dir: str

    def _price_path(self) -> Path:
        folder = Path(self.data_dir)
        for name in ("prices.parquet", "prices.csv"):
            if (folder / name).exists():
                return folder / name
        raise FileNotFoundError(f"{folder}: neither prices.csv nor prices.parquet found")

    def _all_prices(self) -> pd.DataFrame:
        return read_price_file(self._price_path())

    def universe(self) -> pd.DataFrame:
        prices = self._all_prices()
        banks = prices[~prices["ticker"].isin(BENCHMARK_TICKERS)]
        summary = (
            banks.groupby("ticker")
            .agg(
                first_date=("date", "min"),
                last_date=("date", "max"),
                delisted=("delisted", "any"),
                shares_outstanding=("shares_outstanding", "last"),
            )
            .reset_index()
        )
        mapping_path = Path(self.data_dir) / "cik_tickers.csv"
        if not mapping_path.exists():
            raise FileNotFoundError(
                f"{mapping_path}: required to map tickers to CIKs (columns cik, ticker)"
            )
        mapping = read_cik_tickers(mapping_path).drop_duplicates("ticker")
        out = summary.merge(mapping, on="ticker", how="left")
        unmapped = out.loc[out["cik"].isna(), "ticker"].tolist()
        if unmapped:
            warnings.warn(
                f"{mapping_path}: no CIK for tickers {unmapped}; they are kept without filings",
                stacklevel=2,
            )
        out["name"] = out["ticker"]
        out["sic"] = pd.NA
        out["smaller_reporting_company"] = pd.NA
        return out[UNIVERSE_COLUMNS]

    def prices(self, start, end, tickers, ciks=None) -> PriceBatch:
        frame = _between(self._all_prices(), start, end)
        frame = frame[frame["ticker"].isin(tickers)]
        missing = sorted(set(tickers) - set(frame["ticker"]))
        return PriceBatch(
            frame.reset_index(drop=True),
            missing,
            {"source": "files", "file": str(self._price_path())},
        )

    def benchmarks(self, start, end) -> pd.DataFrame:
        frame = _between(self._all_prices(), start, end)
        frame = frame[frame["ticker"].isin(BENCHMARK_TICKERS)]
        if frame.empty:
            raise PriceFileError(
                f"{self._price_path()}: no rows for benchmark tickers {BENCHMARK_TICKERS}"
            )
        return frame[["date", "ticker", "adj_close"]].reset_index(drop=True)


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


class YahooPriceSource(PriceSource):
    """Prices from Yahoo via `yfinance.download` (auto-adjusted), in batches with backoff.

    The universe is a curated list of listed banks (or, with `universe_mode="all"`, every
    EDGAR registrant with a bank SIC code and a listed ticker); CIKs, names, SIC codes and
    shares outstanding come from EDGAR when an `edgar` client is configured.
    """

    tickers: list[str] = []  # empty: the curated list in acct445_assets/data/live_universe.csv
    universe_mode: str = "curated"  # curated | all
    edgar: EdgarClient | None = None
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

    def _download(self, batch: list[str], start, end) -> pd.DataFrame:
        import yfinance

        log = get_dagster_logger()
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


def session_range(start, end) -> pd.DatetimeIndex:
    return trading_days(start, end)
