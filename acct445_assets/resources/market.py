"""Market-data resources: factors and prices, thin adapters over `acct445_assets.sources`.

Every resource of a kind answers the same methods, so assets never know which source they
read and tests can swap in any of them. The work is done by the source object that
`source()` builds from the resource's configuration.
"""

from __future__ import annotations

import pandas as pd
from dagster import ConfigurableResource

from ..params import section
from ..sources.base import (
    PRICE_COLUMNS,
    UNIVERSE_COLUMNS,
    FactorData,
    FactorReader,
    PriceBatch,
    PriceReader,
)
from ..sources.files import FileFactors, FilePrices
from ..sources.live.kenfrench import KenFrenchFactors
from ..sources.live.yahoo import YahooPrices
from ..sources.sample import SampleFactors, SamplePrices, SampleSpec

__all__ = ["PRICE_COLUMNS", "UNIVERSE_COLUMNS", "FactorSource", "PriceSource"]
_SAMPLE = section("sample")


class SampleConfig(ConfigurableResource):
    seed: int = int(_SAMPLE.get("seed", 445))
    n_banks: int = int(_SAMPLE.get("n_banks", 60))
    start: str = str(_SAMPLE.get("start", "2018-01-01"))
    end: str = str(_SAMPLE.get("end", "2025-12-31"))
    sample_dir: str = "data/sample"

    def spec(self) -> SampleSpec:
        return SampleSpec(self.seed, self.n_banks, self.start, self.end, self.sample_dir)


class FactorSource(ConfigurableResource):
    """Fama-French 5 factors (2x3) and momentum, in percent."""

    def source(self) -> FactorReader:
        raise NotImplementedError

    def load(self, frequency: str) -> FactorData:
        return self.source().load(frequency)


class SampleFactorSource(FactorSource, SampleConfig):
    def source(self) -> SampleFactors:
        return SampleFactors(self.spec())


class FileFactorSource(FactorSource):
    data_dir: str

    def source(self) -> FileFactors:
        return FileFactors(self.data_dir)


class KenFrenchFactorSource(FactorSource):
    base_url: str = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp"
    retries: int = 3
    backoff_seconds: float = 1.0
    timeout: float = 30.0

    def source(self) -> KenFrenchFactors:
        return KenFrenchFactors(self.base_url, self.retries, self.backoff_seconds, self.timeout)


class PriceSource(ConfigurableResource):
    """Bank universe, daily adjusted closes, and the SPY/KRE benchmarks."""

    def source(self) -> PriceReader:
        raise NotImplementedError

    def provenance(self) -> dict:
        return self.source().provenance()

    def universe(self) -> pd.DataFrame:
        return self.source().universe()

    def prices(
        self, start: str, end: str, tickers: list[str], ciks: dict[str, str] | None = None
    ) -> PriceBatch:
        return self.source().prices(start, end, tickers, ciks)

    def benchmarks(self, start: str, end: str) -> pd.DataFrame:
        return self.source().benchmarks(start, end)


class SamplePriceSource(PriceSource, SampleConfig):
    def source(self) -> SamplePrices:
        return SamplePrices(self.spec())


class FilePriceSource(PriceSource):
    data_dir: str
    # Applied to a CRSP legacy delisting whose dlret is missing (METHODS 0).
    default_delisting_return: float = float(section("signal").get("delisting_return", -0.30))

    def source(self) -> FilePrices:
        return FilePrices(self.data_dir, self.default_delisting_return)


class YahooPriceSource(PriceSource):
    """Yahoo chart prices; universe identity, filer status and shares from EDGAR."""

    edgar: ConfigurableResource  # an EdgarResource (resources/filings.py)
    base_url: str = "https://query2.finance.yahoo.com"
    universe_csv: str | None = None  # default: acct445_assets/data/live_universe.csv
    tickers: list[str] = []  # empty: every bank of the curated list
    max_retries: int = 5
    backoff_seconds: float = 2.0

    def source(self) -> YahooPrices:
        return YahooPrices(
            base_url=self.base_url,
            edgar=self.edgar.client(),
            universe_csv=self.universe_csv,
            tickers=list(self.tickers),
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
        )
