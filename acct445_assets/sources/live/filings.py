"""10-K/10-Q filings from SEC EDGAR (the `live` filing source).

- Amendments (10-K/A, 10-Q/A) replace the filing they amend (same form and period); the
  original's accession stays on the row (`original_accession`) and in the metadata.
- When a 10-K's primary document has no CECL note under a heading, the note is looked
  for in its EX-13 (the annual report exhibit many banks file the statements in); an
  amendment without the note falls back to its original.
- The metadata counts the filings seen, listed for scoring and skipped, by form and reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from ...cnoi.extract import extract_note
from ..base import FILING_COLUMNS, FilingList, finish_filings
from .edgar import EdgarClient, EdgarConfigError, EdgarError, EdgarRateLimited

log = logging.getLogger(__name__)
AMENDMENT_SUFFIX = "/A"


def resolve_amendments(filings: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Each amendment replaces the latest earlier filing of its base form and period."""
    filings = filings.sort_values(["filing_date", "accession"]).reset_index(drop=True)
    filings["original_accession"] = None
    filings["original_primary_document"] = None
    drop, replaced = set(), []
    for i, row in filings[filings["form"].str.endswith(AMENDMENT_SUFFIX)].iterrows():
        base = row["form"][: -len(AMENDMENT_SUFFIX)]
        candidates = filings[
            (filings["cik"] == row["cik"])
            & (filings["form"].isin([base, row["form"]]))
            & (filings["report_date"] == row["report_date"])
            & (filings["filing_date"] <= row["filing_date"])
            & (filings.index != i)
            & ~filings.index.isin(list(drop))
        ]
        if candidates.empty:
            continue
        original = candidates.iloc[-1]
        first = original["original_accession"] or original["accession"]
        first_doc = original["original_primary_document"] or original["primary_document"]
        filings.loc[i, ["original_accession", "original_primary_document"]] = [first, first_doc]
        drop.add(candidates.index[-1])
        replaced.append(
            {
                "cik": row["cik"],
                "original": original["accession"],
                "original_form": original["form"],
                "amendment": row["accession"],
            }
        )
    return filings.drop(index=list(drop)).reset_index(drop=True), replaced


@dataclass
class EdgarFilings:
    edgar: EdgarClient
    start: str = "2020-01-01"
    end: str | None = None
    forms: list[str] = field(default_factory=lambda: ["10-K", "10-Q"])

    def list_filings(self, banks: pd.DataFrame) -> FilingList:
        frames, failures = [], []
        seen, skipped = Counter(), Counter()
        start = pd.Timestamp(self.start)
        end = pd.Timestamp(self.end) if self.end else pd.Timestamp.today().normalize()
        studied = set(self.forms) | {f + AMENDMENT_SUFFIX for f in self.forms}
        for bank in banks.drop_duplicates(["cik", "ticker"]).to_dict("records"):
            if pd.isna(bank["cik"]):
                failures.append({"cik": None, "ticker": bank.get("ticker"), "reason": "no SEC CIK"})
                continue
            cik = str(bank["cik"]).zfill(10)
            try:
                subs = self.edgar.submissions(cik, start=start)
            except (EdgarRateLimited, EdgarConfigError):
                raise
            except EdgarError as exc:
                failures.append({"cik": cik, "reason": str(exc)[:300]})
                log.warning(f"EDGAR submissions for {cik} failed: {exc}")
                continue
            if subs.empty:
                failures.append({"cik": cik, "reason": "no filings on EDGAR"})
                continue
            seen.update(subs["form"])
            in_forms = subs["form"].isin(studied)
            early = subs["filing_date"] < start
            late = subs["filing_date"] > end
            skipped.update((f, "form not studied") for f in subs.loc[~in_forms, "form"])
            skipped.update(
                (f, "filed before study start") for f in subs.loc[in_forms & early, "form"]
            )
            skipped.update((f, "filed after study end") for f in subs.loc[in_forms & late, "form"])
            keep = subs[in_forms & ~early & ~late].copy()
            keep["ticker"] = bank.get("ticker")
            frames.append(keep)
        frame = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=[*FILING_COLUMNS, "primary_document"])
        )
        replaced = []
        if len(frame):
            frame, replaced = resolve_amendments(frame)
            skipped.update((item["original_form"], "replaced by amendment") for item in replaced)
            frame["document_url"] = [
                self.edgar.document_url(c, a, d)
                for c, a, d in zip(
                    frame["cik"], frame["accession"], frame["primary_document"], strict=True
                )
            ]
        by_reason: dict[str, dict[str, int]] = {}
        for (form, reason), n in sorted(skipped.items()):
            by_reason.setdefault(reason, {})[form] = n
        listed = Counter(frame["form"]) if len(frame) else Counter()
        return FilingList(
            finish_filings(frame),
            failures,
            {
                "source": "live",
                "forms": sorted(studied),
                "start": self.start,
                "filings_seen_by_form": dict(seen.most_common()),
                "filings_listed_for_scoring_by_form": dict(listed),
                "filings_skipped_by_reason_and_form": by_reason,
                "amendments_replacing_originals": replaced,
            },
        )

    def _has_note(self, document: bytes) -> bool:
        try:
            return extract_note(document).located_by == "heading"
        except Exception:  # noqa: BLE001 - an unparseable document has no note either
            return False

    def read_document(self, filing: Mapping) -> bytes:
        """The document holding the filing's CECL note: primary, else EX-13, else the original."""
        cik, accession = filing["cik"], filing["accession"]
        primary = self.edgar.document(cik, accession, filing["primary_document"])
        if self._has_note(primary):
            return primary
        if str(filing["form"]).startswith("10-K"):
            exhibit = self.edgar.exhibit(cik, accession, "EX-13")
            if exhibit is not None and self._has_note(exhibit):
                log.info(f"{accession}: CECL note read from EX-13")
                return exhibit
        original = filing.get("original_accession")
        if isinstance(original, str) and original:
            return self.read_document(
                {
                    **filing,
                    "accession": original,
                    "primary_document": filing["original_primary_document"],
                    "original_accession": None,
                }
            )
        return primary

    def document_reader(self) -> None:
        return None

    def precomputed_scores(self) -> None:
        return None

    def adoption_overrides(self) -> None:
        return None

    def latent_opacity(self) -> None:
        return None

    def latent_opacity_path(self) -> None:
        return None
