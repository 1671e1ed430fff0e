"""The `filing_source` resource: 10-K/10-Q primary documents in three sources, one interface.

- `SampleFilingSource`: documents generated for the sample universe (research/sample_filings.py);
- `FileFilingSource`: `ACCT445_DATA_DIR` with `cnoi_scores.csv` (seed layout, used as is when
  present) or `filings/` (documents named by accession plus `filings/index.csv`), and an
  optional `cecl_adoption.csv` override;
- `EdgarFilingSource`: SEC EDGAR through `EdgarClient` (documents cached by accession).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource, get_dagster_logger

from ..research.cnoi.adoption import read_overrides
from ..research.cnoi.csv_import import read_cnoi_csv
from ..research.cnoi.documents import LocalDocumentReader
from ..research.sample_filings import SampleDocumentReader, filing_schedule
from .edgar import EdgarClient, EdgarError
from .market import _SampleConfigMixin
from .sample_store import load_sample_banks

FILING_COLUMNS = [
    "cik",
    "ticker",
    "accession",
    "form",
    "filing_date",
    "report_date",
    "document_url",
]
DOCUMENT_SUFFIXES = (".htm", ".html", ".xhtml", ".txt")


@dataclass
class FilingList:
    frame: pd.DataFrame  # FILING_COLUMNS (+ source-specific extras)
    failures: list[dict] = field(default_factory=list)  # per bank: cik, reason
    metadata: dict = field(default_factory=dict)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
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


class FilingSource(ConfigurableResource):
    """Lists a universe's 10-K/10-Q filings and reads their primary documents."""

    adoption_overrides_csv: str | None = None
    # Processes that extract and score notes; 0 means one per core.
    workers: int = int(os.environ.get("ACCT445_WORKERS", "0"))

    def worker_count(self) -> int:
        """Processes for extraction and scoring: 1 when documents can only be read here."""
        if self.document_reader() is None:
            return 1
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    def list_filings(self, banks: pd.DataFrame) -> FilingList:
        raise NotImplementedError

    def read_document(self, filing: Mapping) -> str | bytes:
        raise NotImplementedError

    def document_reader(self) -> Callable[[Mapping], str | bytes] | None:
        """A picklable ``read_document`` that extraction workers in other processes can
        call, or None when documents must be read in this process (EDGAR: one rate limit)."""
        return None

    def precomputed_scores(self) -> pd.DataFrame | None:
        """Scores supplied by the user instead of documents (files source only)."""
        return None

    def adoption_overrides(self) -> pd.DataFrame | None:
        if self.adoption_overrides_csv and Path(self.adoption_overrides_csv).exists():
            return read_overrides(self.adoption_overrides_csv)
        return None

    def latent_opacity(self) -> pd.Series | None:
        """Planted opacity per CIK when the source knows it (sample only)."""
        return None


@lru_cache(maxsize=2)
def _sample_reader(
    seed: int,
    n_banks: int,
    start: str,
    end: str,
    filings_start: str,
    filings_end: str,
    target_bytes: int | None,
) -> SampleDocumentReader:
    return SampleDocumentReader(
        load_sample_banks(seed, n_banks, start, end),
        seed=seed,
        start=filings_start,
        end=filings_end,
        target_bytes=target_bytes,
    )


class SampleFilingSource(FilingSource, _SampleConfigMixin):
    filings_start: str = "2020-01-01"
    filings_end: str | None = None  # default: the sample's end
    target_bytes: int | None = None

    def _banks(self) -> pd.DataFrame:
        return load_sample_banks(self.seed, self.n_banks, self.start, self.end)

    def list_filings(self, banks: pd.DataFrame) -> FilingList:
        wanted = set(banks["cik"].astype(str).str.zfill(10))
        sample = self._banks()
        sample = sample[sample["cik"].astype(str).str.zfill(10).isin(wanted)]
        frame = filing_schedule(
            sample, seed=self.seed, start=self.filings_start, end=self.filings_end or self.end
        )
        frame["document_url"] = "sample://" + frame["accession"]
        return FilingList(
            _finish(frame),
            [],
            {
                **self.sample_metadata(),
                "filings_period": f"{self.filings_start}..{self.filings_end or self.end}",
            },
        )

    def document_reader(self) -> SampleDocumentReader:
        return _sample_reader(
            self.seed,
            self.n_banks,
            self.start,
            self.end,
            self.filings_start,
            self.filings_end or self.end,
            self.target_bytes,
        )

    def read_document(self, filing: Mapping) -> str:
        return self.document_reader()(filing)

    def latent_opacity(self) -> pd.Series:
        banks = self._banks()
        return banks.set_index("cik")["latent_opacity"].astype(float)


class FileFilingSource(FilingSource):
    data_dir: str

    @property
    def _dir(self) -> Path:
        return Path(self.data_dir)

    def adoption_overrides(self) -> pd.DataFrame | None:
        path = (
            Path(self.adoption_overrides_csv)
            if self.adoption_overrides_csv
            else self._dir / "cecl_adoption.csv"
        )
        return read_overrides(path) if path.exists() else None

    def precomputed_scores(self) -> pd.DataFrame | None:
        path = self._dir / "cnoi_scores.csv"
        return read_cnoi_csv(path) if path.exists() else None

    def _index(self) -> pd.DataFrame:
        folder = self._dir / "filings"
        path = folder / "index.csv"
        if not path.exists():
            raise FileNotFoundError(
                f"{self._dir}: neither cnoi_scores.csv nor filings/index.csv found; put scores in the seed "
                "layout in cnoi_scores.csv, or documents named by accession in filings/ with an index.csv "
                "(columns cik, accession, form, filing_date[, report_date, ticker, document])"
            )
        index = pd.read_csv(path, dtype=str, keep_default_na=False)
        index.columns = [c.strip().lower() for c in index.columns]
        missing = [c for c in ("cik", "accession", "form", "filing_date") if c not in index.columns]
        if missing:
            raise ValueError(f"{path}: missing required column(s) {', '.join(missing)}")
        bad_cik = ~index["cik"].str.strip().str.fullmatch(r"\d{1,10}")
        if bad_cik.any():
            i = index.index[bad_cik][0]
            raise ValueError(f"{path}: line {i + 2}, column cik: not a CIK {index.at[i, 'cik']!r}")
        dates = pd.to_datetime(index["filing_date"], errors="coerce", format="mixed")
        if dates.isna().any():
            i = index.index[dates.isna()][0]
            raise ValueError(
                f"{path}: line {i + 2}, column filing_date: cannot parse date {index.at[i, 'filing_date']!r}"
            )
        dup = index["accession"].duplicated()
        if dup.any():
            i = index.index[dup][0]
            raise ValueError(
                f"{path}: line {i + 2}, column accession: duplicate accession {index.at[i, 'accession']!r}"
            )
        if "report_date" in index.columns:
            index["report_date"] = pd.to_datetime(
                index["report_date"].replace("", None), errors="coerce", format="mixed"
            )
        index["filing_date"] = dates
        index["cik"] = index["cik"].str.strip().str.zfill(10)
        return index

    def _document_path(self, accession: str, named: str | None) -> Path | None:
        folder = self._dir / "filings"
        if named:
            p = folder / named
            return p if p.exists() else None
        for suffix in DOCUMENT_SUFFIXES:
            p = folder / f"{accession}{suffix}"
            if p.exists():
                return p
        return None

    def list_filings(self, banks: pd.DataFrame) -> FilingList:
        scores = self.precomputed_scores()
        if scores is not None:
            frame = scores[
                ["cik", "ticker", "accession", "form", "filing_date", "report_date"]
            ].copy()
            return FilingList(_finish(frame), [], {"source": "files", "from": "cnoi_scores.csv"})
        index = self._index()
        tickers = (
            banks.assign(cik=banks["cik"].astype(str).str.zfill(10))
            .drop_duplicates("cik")
            .set_index("cik")["ticker"]
        )
        if "ticker" not in index.columns or (index["ticker"] == "").all():
            index["ticker"] = index["cik"].map(tickers)
        paths = [
            self._document_path(a, (d or None) if "document" in index.columns else None)
            for a, d in zip(
                index["accession"],
                index.get("document", pd.Series([None] * len(index))),
                strict=True,
            )
        ]
        index["document_url"] = [p.resolve().as_uri() if p else None for p in paths]
        return FilingList(
            _finish(index.drop(columns=["document"], errors="ignore")),
            [],
            {"source": "files", "from": "filings/index.csv"},
        )

    def document_reader(self) -> LocalDocumentReader:
        return LocalDocumentReader(str(self._dir / "filings"), DOCUMENT_SUFFIXES)

    def read_document(self, filing: Mapping) -> bytes:
        return self.document_reader()(filing)


class EdgarFilingSource(FilingSource):
    edgar: EdgarClient
    start: str = "2020-01-01"
    end: str | None = None
    forms: list[str] = ["10-K", "10-Q"]

    def list_filings(self, banks: pd.DataFrame) -> FilingList:
        log = get_dagster_logger()
        frames, failures = [], []
        end = pd.Timestamp(self.end) if self.end else pd.Timestamp.today().normalize()
        for bank in banks.drop_duplicates("cik").to_dict("records"):
            cik = str(bank["cik"]).zfill(10)
            try:
                subs = self.edgar.submissions(cik)
            except EdgarError as exc:
                failures.append({"cik": cik, "reason": str(exc)[:300]})
                log.warning(f"EDGAR submissions for {cik} failed: {exc}")
                continue
            if subs.empty:
                failures.append({"cik": cik, "reason": "no filings on EDGAR"})
                continue
            keep = subs[
                subs["form"].isin(self.forms)
                & subs["filing_date"].between(pd.Timestamp(self.start), end)
            ].copy()
            keep["ticker"] = bank.get("ticker")
            keep["document_url"] = [
                self.edgar.document_url(cik, a, d)
                for a, d in zip(keep["accession"], keep["primary_document"], strict=True)
            ]
            frames.append(keep)
        frame = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FILING_COLUMNS)
        )
        return FilingList(
            _finish(frame),
            failures,
            {"source": "live", "forms": list(self.forms), "start": self.start},
        )

    def read_document(self, filing: Mapping) -> bytes:
        return self.edgar.primary_document(
            filing["cik"], filing["accession"], filing["primary_document"]
        )


def build_filing_source(settings) -> FilingSource:
    """The `filing_source` resource for `ACCT445_SOURCE` (settings from settings.load_settings)."""
    if settings.source == "sample":
        return SampleFilingSource()
    if settings.source == "files":
        return FileFilingSource(data_dir=str(settings.data_dir))
    return EdgarFilingSource(edgar=EdgarClient(cache_dir=str(Path(settings.cache_dir) / "edgar")))
