"""The `files` source: a directory of user files (`ACCT445_DATA_DIR`).

`factors/` holds Ken French files as published; `prices.csv|.parquet` and
`cik_tickers.csv` the prices and their CIKs; `cnoi_scores.csv` (seed layout) or
`filings/` the disclosures; `cecl_adoption.csv` optional adoption overrides.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...cnoi.adoption import read_overrides
from .. import kenfrench
from ..base import (
    BENCHMARK_TICKERS,
    FACTOR_COLUMNS,
    UNIVERSE_COLUMNS,
    FactorData,
    FilingList,
    PriceBatch,
    between,
    finish_factors,
    finish_filings,
)
from ..sample.universe import monthly_from_daily
from .cnoi_csv import read_cnoi_csv
from .documents import LocalDocumentReader
from .prices import PriceFileError, read_cik_tickers, read_price_file

DOCUMENT_SUFFIXES = (".htm", ".html", ".xhtml", ".txt")


@dataclass(frozen=True)
class FileFactors:
    data_dir: Path

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
                frame, derived = monthly_from_daily(finish_factors(daily).fillna(0.0)), True
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
            finish_factors(frame),
            {
                "source": "files",
                "files": [f.name for f in used],
                "vintage": ",".join(sorted({f.vintage for f in used if f.vintage})) or "unknown",
                "sha256": {Path(f.name).name: f.sha256 for f in used},
                "missing_columns": missing,
                "derived_from_daily": derived,
            },
        )


@dataclass(frozen=True)
class FilePrices:
    data_dir: Path

    def price_path(self) -> Path:
        folder = Path(self.data_dir)
        for name in ("prices.parquet", "prices.csv"):
            if (folder / name).exists():
                return folder / name
        raise FileNotFoundError(f"{folder}: neither prices.csv nor prices.parquet found")

    def all_prices(self) -> pd.DataFrame:
        return read_price_file(self.price_path())

    def provenance(self) -> dict:
        return {}

    def universe(self) -> pd.DataFrame:
        prices = self.all_prices()
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
        frame = between(self.all_prices(), start, end)
        frame = frame[frame["ticker"].isin(tickers)]
        missing = sorted(set(tickers) - set(frame["ticker"]))
        return PriceBatch(
            frame.reset_index(drop=True),
            missing,
            {"source": "files", "file": str(self.price_path())},
        )

    def benchmarks(self, start, end) -> pd.DataFrame:
        frame = between(self.all_prices(), start, end)
        frame = frame[frame["ticker"].isin(BENCHMARK_TICKERS)]
        if frame.empty:
            raise PriceFileError(
                f"{self.price_path()}: no rows for benchmark tickers {BENCHMARK_TICKERS}"
            )
        return frame[["date", "ticker", "adj_close"]].reset_index(drop=True)


@dataclass(frozen=True)
class FileFilings:
    data_dir: Path
    adoption_overrides_csv: str | None = None

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

    def latent_opacity(self) -> None:
        return None

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
            return FilingList(
                finish_filings(frame), [], {"source": "files", "from": "cnoi_scores.csv"}
            )
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
            finish_filings(index.drop(columns=["document"], errors="ignore")),
            [],
            {"source": "files", "from": "filings/index.csv"},
        )

    def document_reader(self) -> LocalDocumentReader:
        return LocalDocumentReader(str(self._dir / "filings"), DOCUMENT_SUFFIXES)

    def read_document(self, filing: Mapping) -> bytes:
        return self.document_reader()(filing)
