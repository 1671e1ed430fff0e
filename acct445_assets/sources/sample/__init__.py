"""The `sample` source: a deterministic synthetic universe with planted effects.

`universe` generates banks, prices, factors and the truth record; `filings` generates
their 10-K/10-Q documents; `store` caches one universe per configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..base import (
    UNIVERSE_COLUMNS,
    FactorData,
    FilingList,
    PriceBatch,
    between,
    finish_filings,
)
from .filings import SampleDocumentReader, filing_schedule
from .store import (
    load_sample_banks,
    load_sample_opacity_path,
    load_sample_universe,
    write_truth,
)


@dataclass(frozen=True)
class SampleSpec:
    seed: int
    n_banks: int
    start: str
    end: str
    sample_dir: str = "data/sample"

    def universe_data(self):
        return load_sample_universe(
            self.seed, self.n_banks, self.start, self.end, cache_dir=self.sample_dir
        )

    def banks(self) -> pd.DataFrame:
        return load_sample_banks(self.seed, self.n_banks, self.start, self.end)

    def opacity_path(self) -> pd.DataFrame:
        return load_sample_opacity_path(self.seed, self.n_banks, self.start, self.end)

    def metadata(self) -> dict:
        return {
            "source": "sample",
            "seed": self.seed,
            "n_banks": self.n_banks,
            "period": f"{self.start}..{self.end}",
        }


@dataclass(frozen=True)
class SampleFactors:
    spec: SampleSpec

    def load(self, frequency: str) -> FactorData:
        u = self.spec.universe_data()
        frame = u.factors_daily if frequency == "daily" else u.factors_monthly
        return FactorData(
            frame.copy(), {**self.spec.metadata(), "vintage": f"sample-seed-{self.spec.seed}"}
        )


@dataclass(frozen=True)
class SamplePrices:
    spec: SampleSpec

    def provenance(self) -> dict:
        truth = write_truth(self.spec.universe_data(), Path(self.spec.sample_dir))
        return {**self.spec.metadata(), "truth_record": str(truth)}

    def universe(self) -> pd.DataFrame:
        return self.spec.universe_data().banks[UNIVERSE_COLUMNS].copy()

    def prices(self, start, end, tickers, ciks=None) -> PriceBatch:
        frame = self.spec.universe_data().panel.frame(start, end, tickers, with_cik=False)
        return PriceBatch(frame, [], self.spec.metadata())

    def benchmarks(self, start, end) -> pd.DataFrame:
        return between(self.spec.universe_data().benchmarks, start, end).reset_index(drop=True)


@lru_cache(maxsize=2)
def _document_reader(
    spec: SampleSpec, filings_start: str, filings_end: str, target_bytes: int | None
) -> SampleDocumentReader:
    return SampleDocumentReader(
        spec.banks(),
        seed=spec.seed,
        start=filings_start,
        end=filings_end,
        target_bytes=target_bytes,
        opacity_path=spec.opacity_path(),
    )


@dataclass(frozen=True)
class SampleFilings:
    spec: SampleSpec
    filings_start: str = "2020-01-01"
    filings_end: str | None = None  # default: the sample's end
    target_bytes: int | None = None

    @property
    def _end(self) -> str:
        return self.filings_end or self.spec.end

    def list_filings(self, banks: pd.DataFrame) -> FilingList:
        wanted = set(banks["cik"].astype(str).str.zfill(10))
        sample = self.spec.banks()
        sample = sample[sample["cik"].astype(str).str.zfill(10).isin(wanted)]
        frame = filing_schedule(
            sample, seed=self.spec.seed, start=self.filings_start, end=self._end
        )
        frame["document_url"] = "sample://" + frame["accession"]
        return FilingList(
            finish_filings(frame),
            [],
            {**self.spec.metadata(), "filings_period": f"{self.filings_start}..{self._end}"},
        )

    def document_reader(self) -> SampleDocumentReader:
        return _document_reader(self.spec, self.filings_start, self._end, self.target_bytes)

    def read_document(self, filing: Mapping) -> str:
        return self.document_reader()(filing)

    def precomputed_scores(self) -> None:
        return None

    def adoption_overrides(self) -> None:
        return None

    def latent_opacity(self) -> pd.Series:
        return self.spec.banks().set_index("cik")["latent_opacity"].astype(float)

    def latent_opacity_path(self) -> pd.DataFrame:
        """Latent opacity by quarter (rows) and bank (columns, cik), which the notes follow."""
        return self.spec.opacity_path()
