"""The `filing_source` resource: thin adapters over the filing sources in
`acct445_assets.sources` (sample documents, a files directory, SEC EDGAR)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from ..cnoi.adoption import read_overrides
from ..sources.base import FilingList, FilingReader
from ..sources.files import FileFilings
from ..sources.live.edgar import DEFAULT_RPS, EdgarClient
from ..sources.live.filings import EdgarFilings
from ..sources.sample import SampleFilings
from .market import SampleConfig


class FilingSource(ConfigurableResource):
    """Lists a universe's 10-K/10-Q filings and reads their primary documents."""

    adoption_overrides_csv: str | None = None
    # Processes that extract and score notes; 0 means one per core.
    workers: int = int(os.environ.get("ACCT445_WORKERS", "0"))

    def source(self) -> FilingReader:
        raise NotImplementedError

    def worker_count(self) -> int:
        """Processes for extraction and scoring: 1 when documents can only be read here."""
        if self.document_reader() is None:
            return 1
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    def list_filings(self, banks: pd.DataFrame) -> FilingList:
        return self.source().list_filings(banks)

    def read_document(self, filing: Mapping) -> str | bytes:
        return self.source().read_document(filing)

    def document_reader(self) -> Callable[[Mapping], str | bytes] | None:
        return self.source().document_reader()

    def precomputed_scores(self) -> pd.DataFrame | None:
        return self.source().precomputed_scores()

    def adoption_overrides(self) -> pd.DataFrame | None:
        from_source = self.source().adoption_overrides()
        if from_source is not None:
            return from_source
        if self.adoption_overrides_csv and Path(self.adoption_overrides_csv).exists():
            return read_overrides(self.adoption_overrides_csv)
        return None

    def latent_opacity(self) -> pd.Series | None:
        return self.source().latent_opacity()

    def latent_opacity_path(self) -> pd.DataFrame | None:
        return self.source().latent_opacity_path()


class SampleFilingSource(FilingSource, SampleConfig):
    filings_start: str = "2020-01-01"
    filings_end: str | None = None  # default: the sample's end
    target_bytes: int | None = None

    def source(self) -> SampleFilings:
        return SampleFilings(self.spec(), self.filings_start, self.filings_end, self.target_bytes)


class FileFilingSource(FilingSource):
    data_dir: str

    def source(self) -> FileFilings:
        return FileFilings(self.data_dir, self.adoption_overrides_csv)


class EdgarResource(ConfigurableResource):
    """SEC EDGAR access: builds the plain `EdgarClient` (sources/live/edgar.py)."""

    cache_dir: str = "data/cache/edgar"
    user_agent: str = ""  # default: the SEC_USER_AGENT environment variable
    www_url: str = "https://www.sec.gov"
    data_url: str = "https://data.sec.gov"
    max_requests_per_second: float = DEFAULT_RPS
    backoff_seconds: float = 1.0
    rate_limit_wait_seconds: float = 600.0
    rate_limit_retries: int = 2
    tickers_max_age_days: float = 7.0
    submissions_max_age_hours: float = 12.0
    concept_max_age_days: float = 7.0

    def client(self) -> EdgarClient:
        return EdgarClient(
            cache_dir=Path(self.cache_dir),
            user_agent=self.user_agent,
            www_url=self.www_url,
            data_url=self.data_url,
            max_requests_per_second=self.max_requests_per_second,
            backoff_seconds=self.backoff_seconds,
            rate_limit_wait_seconds=self.rate_limit_wait_seconds,
            rate_limit_retries=self.rate_limit_retries,
            tickers_max_age_days=self.tickers_max_age_days,
            submissions_max_age_hours=self.submissions_max_age_hours,
            concept_max_age_days=self.concept_max_age_days,
        )


def edgar_resource(settings) -> EdgarResource:
    live = settings.live
    return EdgarResource(
        cache_dir=str(Path(settings.cache_dir) / "edgar"),
        user_agent=live.sec_user_agent,
        www_url=live.sec_www_url,
        data_url=live.sec_data_url,
        max_requests_per_second=live.sec_max_requests_per_second,
        backoff_seconds=live.backoff_seconds,
        rate_limit_wait_seconds=live.rate_limit_wait_seconds,
    )


class EdgarFilingSource(FilingSource):
    edgar: EdgarResource
    start: str = "2020-01-01"
    end: str | None = None
    forms: list[str] = ["10-K", "10-Q"]

    def source(self) -> EdgarFilings:
        return EdgarFilings(self.edgar.client(), self.start, self.end, list(self.forms))


def build_filing_source(settings) -> FilingSource:
    """The `filing_source` resource for `ACCT445_SOURCE` (settings from settings.load_settings)."""
    if settings.source == "sample":
        return SampleFilingSource(sample_dir=str(settings.sample_dir))
    if settings.source == "files":
        return FileFilingSource(data_dir=str(settings.data_dir))
    return EdgarFilingSource(edgar=edgar_resource(settings))
