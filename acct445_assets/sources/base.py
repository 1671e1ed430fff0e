"""What every source delivers, per kind of data: factors, universe, prices, filings.

A source is a plain object; the Dagster resources in `acct445_assets.resources` build
one from their configuration and hand its answers to the assets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

FACTOR_COLUMNS = ["mkt_rf", "smb", "hml", "rmw", "cma", "rf", "mom"]
BENCHMARK_TICKERS = ("SPY", "KRE")
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
# The shared price contract: close is the unadjusted close (NULL when a source only has
# adjusted closes), dividend/split_ratio take effect on `date` (0 and 1 when none), ret and
# delisting_return are the source's own (CRSP) returns, NULL where it has none.
PRICE_COLUMNS = [
    "date",
    "ticker",
    "cik",
    "adj_close",
    "volume",
    "shares_outstanding",
    "delisted",
    "close",
    "dividend",
    "split_ratio",
    "ret",
    "delisting_return",
]
PRICE_DEFAULTS = {
    "close": None,
    "dividend": 0.0,
    "split_ratio": 1.0,
    "ret": None,
    "delisting_return": None,
}


def finish_prices(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the contract columns a source does not have, with their documented defaults.

    Columns are replaced, never written into, so a shallow copy leaves the caller's frame
    as it was without copying 12M rows."""
    frame = frame.copy(deep=False)
    for col, default in PRICE_DEFAULTS.items():
        if col not in frame.columns:
            frame[col] = np.nan if default is None else default
        elif default is not None:
            frame[col] = frame[col].fillna(default)
    for col in (
        "close",
        "dividend",
        "split_ratio",
        "ret",
        "delisting_return",
        "shares_outstanding",
    ):
        if frame[col].dtype != float:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


FILING_COLUMNS = [
    "cik",
    "ticker",
    "accession",
    "form",
    "filing_date",
    "report_date",
    "document_url",
]


@dataclass
class FactorData:
    frame: pd.DataFrame  # index `date`, FACTOR_COLUMNS, percent
    metadata: dict = field(default_factory=dict)


@dataclass
class PriceBatch:
    frame: pd.DataFrame  # PRICE_COLUMNS without cik (assets attach it)
    missing: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


@dataclass
class FilingList:
    frame: pd.DataFrame  # FILING_COLUMNS (+ source-specific extras)
    failures: list[dict] = field(default_factory=list)  # per bank: cik, reason
    metadata: dict = field(default_factory=dict)


class FactorReader(Protocol):
    def load(self, frequency: str) -> FactorData: ...


class UniverseReader(Protocol):
    def universe(self) -> pd.DataFrame: ...


class PriceReader(UniverseReader, Protocol):
    def provenance(self) -> dict: ...

    def prices(
        self, start: str, end: str, tickers: list[str], ciks: dict[str, str] | None = None
    ) -> PriceBatch: ...

    def benchmarks(self, start: str, end: str) -> pd.DataFrame: ...


class FilingReader(Protocol):
    def list_filings(self, banks: pd.DataFrame) -> FilingList: ...

    def read_document(self, filing: Mapping) -> str | bytes: ...

    def document_reader(self) -> Callable[[Mapping], str | bytes] | None:
        """A picklable ``read_document`` for worker processes, or None when documents
        must be read in this process (EDGAR: one rate limit)."""
        ...

    def precomputed_scores(self) -> pd.DataFrame | None: ...

    def adoption_overrides(self) -> pd.DataFrame | None: ...

    def latent_opacity(self) -> pd.Series | None: ...

    def latent_opacity_path(self) -> pd.DataFrame | None:
        """Planted opacity by quarter (rows) and bank (columns, cik); sample sources only."""
        ...


def finish_factors(frame: pd.DataFrame) -> pd.DataFrame:
    for col in FACTOR_COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    out = frame[FACTOR_COLUMNS].astype(float)
    out.index = pd.DatetimeIndex(out.index, name="date")
    return out


def finish_filings(frame: pd.DataFrame) -> pd.DataFrame:
    for col in FILING_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    frame["cik"] = frame["cik"].astype(str).str.zfill(10)
    for col in ("filing_date", "report_date"):
        frame[col] = pd.to_datetime(frame[col], errors="coerce")
    extras = [c for c in frame.columns if c not in FILING_COLUMNS]
    return (
        frame[FILING_COLUMNS + extras]
        .sort_values(["cik", "filing_date", "accession"])
        .reset_index(drop=True)
    )


def between(frame: pd.DataFrame, start, end) -> pd.DataFrame:
    mask = (frame["date"] >= pd.Timestamp(start)) & (frame["date"] <= pd.Timestamp(end))
    return frame.loc[mask]
