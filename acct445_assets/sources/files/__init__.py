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
from .cnoi_csv import read_cnoi_csv
from .crsp import DSF_NAMES, read_dsf, read_link
from .documents import LocalDocumentReader
from .prices import (
    PriceFileError,
    apply_shares,
    parse_dates,
    read_cik_tickers,
    read_price_file,
    read_shares_file,
)

DOCUMENT_SUFFIXES = (".htm", ".html", ".xhtml", ".txt")


@dataclass(frozen=True)
class FileFactors:
    data_dir: Path

    def files(self) -> list[kenfrench.FactorFile]:
        folder = Path(self.data_dir) / "factors"
        paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".csv", ".zip", ".txt"))
        if not paths:
            raise FileNotFoundError(f"{folder}: no Ken French factor files (.csv or .zip) found")
        return [kenfrench.parse_file(p) for p in paths]

    def load(self, frequency: str) -> FactorData:
        """Factors of one frequency from the files of that frequency (METHODS 2).

        Monthly factors come from monthly files; only when there is none at all are they
        compounded from the daily files (recorded as `derived_from_daily`). A table without
        `mkt_rf` and `rf` is refused: a factor table never holds values no file published.
        """
        folder = Path(self.data_dir) / "factors"
        files = self.files()
        used = [f for f in files if f.frequency == frequency]
        derived = False
        if used:
            frame = kenfrench.merge_files(files, frequency)
        elif frequency == "monthly" and any(f.frequency == "daily" for f in files):
            used = [f for f in files if f.frequency == "daily"]
            frame, derived = (
                kenfrench.monthly_from_daily(kenfrench.merge_files(files, "daily")),
                True,
            )
        else:
            raise kenfrench.FactorFileError(
                f"{folder}: no {frequency} factor file among {[Path(f.name).name for f in files]}"
            )
        missing = [c for c in FACTOR_COLUMNS if c not in frame.columns]
        if {"mkt_rf", "rf"} & set(missing):
            raise kenfrench.FactorFileError(
                f"{folder}: the {frequency} files {[Path(f.name).name for f in used]} lack required"
                f" column(s) {sorted({'mkt_rf', 'rf'} & set(missing))}; add the Fama-French"
                " 5-factor (or 3-factor) file of that frequency"
            )
        if frame.empty:
            raise kenfrench.FactorFileError(
                f"{folder}: the {frequency} files {[Path(f.name).name for f in used]} share no date"
            )
        return FactorData(
            finish_factors(frame),
            {
                "source": "files",
                "files": [f.name for f in used],
                "file_ranges": [kenfrench.file_range(f) for f in used],
                "vintage": ",".join(sorted({f.vintage for f in used if f.vintage})) or "unknown",
                "sha256": {Path(f.name).name: f.sha256 for f in used},
                "missing_columns": missing,
                "derived_from_daily": derived,
            },
        )


@dataclass(frozen=True)
class FilePrices:
    data_dir: Path
    default_delisting_return: float = -0.30

    def price_path(self) -> Path | None:
        folder = Path(self.data_dir)
        found = [folder / n for n in ("prices.csv", "prices.parquet") if (folder / n).exists()]
        if len(found) > 1:
            raise PriceFileError(
                f"{folder}: both prices.csv and prices.parquet are present; keep one of them"
            )
        if found:
            return found[0]
        if self.crsp_path() is None:
            raise FileNotFoundError(
                f"{folder}: no prices: neither prices.csv nor prices.parquet (nor a CRSP file"
                f" {', '.join(DSF_NAMES)}) found"
            )
        return None

    def crsp_path(self) -> Path | None:
        folder = Path(self.data_dir)
        found = [folder / n for n in DSF_NAMES if (folder / n).exists()]
        if len(found) > 1:
            raise PriceFileError(f"{folder}: more than one CRSP file {[p.name for p in found]}")
        return found[0] if found else None

    def _crsp(self) -> tuple[pd.DataFrame, dict] | None:
        path = self.crsp_path()
        if path is None:
            return None
        link_path = Path(self.data_dir) / "crsp_link.csv"
        if not link_path.exists():
            raise FileNotFoundError(
                f"{link_path}: required with {path.name} (columns permno, cik[, ticker])"
            )
        return read_dsf(
            path,
            read_link(link_path),
            Path(self.data_dir) / "crsp_delist.csv",
            self.default_delisting_return,
        )

    def all_prices(self) -> pd.DataFrame:
        path = self.price_path()
        parts = []
        if path is not None:
            parts.append(read_price_file(path))
        crsp = self._crsp()
        if crsp is not None:
            parts.append(crsp[0].drop(columns="cik"))
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        dup = frame.duplicated(["date", "ticker"])
        if dup.any():
            row = frame[dup].iloc[0]
            raise PriceFileError(
                f"{Path(self.data_dir)}: ({row['date'].date()}, {row['ticker']}) is in both the"
                " price file and the CRSP file"
            )
        shares_path = Path(self.data_dir) / "shares_outstanding.csv"
        if shares_path.exists():
            frame = apply_shares(frame, read_shares_file(shares_path))
        banks = frame[~frame["ticker"].isin(BENCHMARK_TICKERS)]
        if banks.empty:
            raise PriceFileError(
                f"{path or self.crsp_path()}: no bank rows (only benchmarks {BENCHMARK_TICKERS} or none)"
            )
        return frame.sort_values(["ticker", "date"]).reset_index(drop=True)

    def provenance(self) -> dict:
        return {}

    def _mapping(self) -> pd.DataFrame:
        mapping_path = Path(self.data_dir) / "cik_tickers.csv"
        parts = []
        if mapping_path.exists():
            parts.append(read_cik_tickers(mapping_path))
        crsp = self.crsp_path()
        if crsp is not None:
            parts.append(read_link(Path(self.data_dir) / "crsp_link.csv")[["cik", "ticker"]])
        if not parts:
            raise FileNotFoundError(
                f"{mapping_path}: required to map tickers to CIKs (columns cik, ticker)"
            )
        mapping = pd.concat(parts, ignore_index=True).drop_duplicates()
        clash = mapping["ticker"].duplicated(keep=False)
        if clash.any():
            ticker = mapping.loc[clash, "ticker"].iloc[0]
            raise PriceFileError(
                f"{mapping_path} and crsp_link.csv: ticker {ticker} is mapped to CIKs"
                f" {mapping.loc[mapping['ticker'] == ticker, 'cik'].tolist()}"
            )
        return mapping

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
        out = summary.merge(self._mapping(), on="ticker", how="left")
        unmapped = out.loc[out["cik"].isna(), "ticker"].tolist()
        if unmapped:
            warnings.warn(
                f"{Path(self.data_dir) / 'cik_tickers.csv'}: no CIK for tickers {unmapped};"
                " they are kept without filings",
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
        meta = {"source": "files", "file": str(self.price_path() or self.crsp_path())}
        crsp = self.crsp_path()
        if crsp is not None:
            meta["crsp_file"] = str(crsp)
        return PriceBatch(frame.reset_index(drop=True), missing, meta)

    def benchmarks(self, start, end) -> pd.DataFrame:
        frame = between(self.all_prices(), start, end)
        frame = frame[frame["ticker"].isin(BENCHMARK_TICKERS)]
        if frame.empty:
            raise PriceFileError(
                f"{self.price_path() or self.crsp_path()}: no rows for benchmark tickers {BENCHMARK_TICKERS}"
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

    def latent_opacity_path(self) -> None:
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
        # Same date rule as the price files and cnoi_scores.csv: day-first is never guessed.
        dates = parse_dates(index["filing_date"], str(path), "filing_date", csv=True)
        dates.index = index.index
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
