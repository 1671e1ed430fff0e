"""10-K/10-Q filings from SEC EDGAR (the `live` filing source)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from ..base import FILING_COLUMNS, FilingList, finish_filings
from .edgar import EdgarClient, EdgarError


@dataclass
class EdgarFilings:
    edgar: EdgarClient
    start: str = "2020-01-01"
    end: str | None = None
    forms: list[str] = field(default_factory=lambda: ["10-K", "10-Q"])

    def list_filings(self, banks: pd.DataFrame) -> FilingList:
        log = logging.getLogger(__name__)
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
            finish_filings(frame),
            failures,
            {"source": "live", "forms": list(self.forms), "start": self.start},
        )

    def read_document(self, filing: Mapping) -> bytes:
        return self.edgar.primary_document(
            filing["cik"], filing["accession"], filing["primary_document"]
        )

    def document_reader(self) -> None:
        return None

    def precomputed_scores(self) -> None:
        return None

    def adoption_overrides(self) -> None:
        return None

    def latent_opacity(self) -> None:
        return None
