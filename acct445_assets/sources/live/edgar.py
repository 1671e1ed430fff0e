"""SEC EDGAR client (live source) that follows the SEC fair-access rules.

- a User-Agent with contact from `SEC_USER_AGENT`, checked before any request;
- a request rate below SEC's 10/s, shared by every process of a run: a token bucket kept
  in a lock file in the cache directory;
- 429/5xx retried with backoff (urllib3 `Retry`, honouring `Retry-After`); a 403 "Request
  Rate Threshold Exceeded" (SEC's answer to a rate breach, with a block of ~10 minutes)
  waits out the block and, if it persists, fails with `EdgarRateLimited`;
- everything cached on disk: company_tickers.json and submissions for a configurable age
  (so each is fetched once per run), older submissions pages, filing indexes and documents
  for good (they never change), companyconcept answers for a configurable age.

Base URLs are fields so tests (and `settings.LiveSettings`) can point the client at 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import requests
from tenacity import Retrying as _Retrying
from tenacity import retry_if_exception_type, stop_after_attempt, wait_fixed

from .http import fresh, retrying_session, write_atomic

log = logging.getLogger(__name__)

SEC_MAX_RPS = 10.0
DEFAULT_RPS = 5.0
RATE_THRESHOLD_TEXT = "request rate threshold exceeded"


class EdgarError(RuntimeError):
    pass


class EdgarConfigError(EdgarError):
    pass


class EdgarNotFound(EdgarError):
    pass


class EdgarRateLimited(EdgarError):
    """SEC keeps answering 403 'Request Rate Threshold Exceeded': stop the whole run."""


class FileTokenBucket:
    """Spaces request starts 1/rate apart across every process sharing `path`.

    The next free slot is a float in the file, read and advanced under an exclusive
    `flock`; each caller then sleeps until its slot.
    """

    def __init__(self, path: Path, rate: float, sleep=time.sleep, clock=time.time):
        if not 0 < rate < SEC_MAX_RPS:
            raise EdgarConfigError(
                f"max_requests_per_second={rate}: must be above 0 and below SEC's {SEC_MAX_RPS:g}/s"
            )
        self.path = Path(path)
        self.interval = 1.0 / rate
        self._sleep = sleep
        self._clock = clock

    def acquire(self) -> float:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                raw = handle.read().strip()
                now = self._clock()
                start = max(now, float(raw) if raw else 0.0)
                handle.seek(0)
                handle.truncate()
                handle.write(repr(start + self.interval))
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        if start > now:
            self._sleep(start - now)
        return start


def cik10(cik) -> str:
    text = str(cik).strip()
    if not text.isdigit():
        raise EdgarError(f"CIK {cik!r} is not a number")
    return f"{int(text):010d}"


def _filings_frame(block: dict) -> pd.DataFrame:
    columns = ["accession", "form", "filing_date", "report_date", "primary_document"]
    if not block or "accessionNumber" not in block:
        return pd.DataFrame(columns=columns)
    n = len(block["accessionNumber"])

    def col(name):
        values = list(block.get(name) or [])
        return values + [None] * (n - len(values))

    return pd.DataFrame(
        {
            "accession": col("accessionNumber"),
            "form": col("form"),
            "filing_date": pd.to_datetime(col("filingDate"), errors="coerce"),
            "report_date": pd.to_datetime(
                pd.Series(col("reportDate"), dtype=object).replace("", None), errors="coerce"
            ),
            "primary_document": col("primaryDocument"),
        }
    )


_INDEX_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.I | re.S)
_INDEX_CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.I | re.S)
_HREF = re.compile(r'href="([^"]+)"', re.I)
_TAGS = re.compile(r"<[^>]+>")


def parse_filing_index(html: str) -> list[dict]:
    """Documents of a filing from its `-index.htm` page: seq, description, document, type."""
    out = []
    for row in _INDEX_ROW.findall(html):
        cells = _INDEX_CELL.findall(row)
        if len(cells) < 4:
            continue
        href = _HREF.search(cells[2])
        text = [re.sub(r"\s+", " ", _TAGS.sub("", c)).strip() for c in cells]
        name = href.group(1).rsplit("/", 1)[-1] if href else text[2]
        out.append({"description": text[1], "document": name, "type": text[3].upper()})
    return out


_DEI = r'name="dei:{name}"[^>]*>\s*(?:<[^>]+>\s*)*([^<]+?)\s*<'


def cover_page_status(document: str | bytes) -> dict:
    """Smaller-reporting-company status from a 10-K's inline-XBRL cover page.

    `dei:EntitySmallBusiness` (true/false) decides; without it, the filer category
    decides only where it is conclusive (a large accelerated filer is never an SRC; the
    pre-2019 category "Smaller Reporting Company" is one). Otherwise unknown (NA).
    """
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    small = re.search(_DEI.format(name="EntitySmallBusiness"), text, re.I)
    category = re.search(_DEI.format(name="EntityFilerCategory"), text, re.I)
    category_text = category.group(1).strip() if category else None
    status = pd.NA
    if small and small.group(1).strip().lower() in ("true", "false"):
        status = small.group(1).strip().lower() == "true"
    elif category_text:
        lowered = category_text.lower()
        if "smaller reporting" in lowered:
            status = True
        elif lowered.startswith("large accelerated"):
            status = False
    return {"smaller_reporting_company": status, "filer_category": category_text}


@dataclass
class EdgarClient:
    """Fair-access SEC EDGAR client: tickers, submissions, concepts, indexes, documents."""

    cache_dir: Path = Path("data/cache/edgar")
    user_agent: str = ""  # default: the SEC_USER_AGENT environment variable
    www_url: str = "https://www.sec.gov"
    data_url: str = "https://data.sec.gov"
    max_requests_per_second: float = DEFAULT_RPS
    timeout_seconds: float = 30.0
    retries: int = 5
    backoff_seconds: float = 1.0
    rate_limit_wait_seconds: float = 600.0
    rate_limit_retries: int = 2
    tickers_max_age_days: float = 7.0
    submissions_max_age_hours: float = 12.0
    concept_max_age_days: float = 7.0
    sleep: object = field(default=time.sleep, repr=False)

    def __post_init__(self):
        self.cache_dir = Path(self.cache_dir)
        self.www_url = self.www_url.rstrip("/")
        self.data_url = self.data_url.rstrip("/")
        self._session: requests.Session | None = None
        self._bucket = FileTokenBucket(
            self.cache_dir / "rate_limiter", self.max_requests_per_second, sleep=self.sleep
        )

    # ------------------------------------------------------------- plumbing

    def resolved_user_agent(self) -> str:
        ua = (self.user_agent or os.environ.get("SEC_USER_AGENT") or "").strip()
        if not ua:
            raise EdgarConfigError(
                "SEC_USER_AGENT is not set: SEC EDGAR requires a User-Agent with contact details, "
                "e.g. export SEC_USER_AGENT='Jane Doe Research jane.doe@example.edu'"
            )
        if "@" not in ua:
            raise EdgarConfigError(
                f"SEC_USER_AGENT={ua!r} has no contact e-mail; SEC fair access asks for one "
                "(e.g. 'Jane Doe Research jane.doe@example.edu')"
            )
        return ua

    def session(self) -> requests.Session:
        if self._session is None:
            self._session = retrying_session(
                self.retries,
                self.backoff_seconds,
                headers={
                    "User-Agent": self.resolved_user_agent(),
                    "Accept-Encoding": "gzip, deflate",
                },
            )
        return self._session

    def _get_once(self, url: str) -> requests.Response:
        self._bucket.acquire()
        try:
            resp = self.session().get(url, timeout=self.timeout_seconds)
        except requests.RequestException as exc:
            raise EdgarError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code == 200:
            return resp
        if resp.status_code == 404:
            raise EdgarNotFound(f"404 Not Found: {url}")
        if resp.status_code == 403 and RATE_THRESHOLD_TEXT in resp.text.lower():
            log.warning(
                f"EDGAR rate threshold exceeded at {url}; waiting {self.rate_limit_wait_seconds:g}s"
            )
            raise EdgarRateLimited(url)
        raise EdgarError(f"HTTP {resp.status_code} from {url}: {resp.text[:200]}")

    def get(self, url: str) -> bytes:
        """GET `url` within the shared rate limit; waits out SEC's rate-threshold blocks."""
        retrying = _Retrying(
            retry=retry_if_exception_type(EdgarRateLimited),
            wait=wait_fixed(self.rate_limit_wait_seconds),
            stop=stop_after_attempt(self.rate_limit_retries + 1),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._get_once, url).content
        except EdgarRateLimited:
            raise EdgarRateLimited(
                f"SEC EDGAR kept answering 403 'Request Rate Threshold Exceeded' for {url} after "
                f"{self.rate_limit_retries + 1} attempts {self.rate_limit_wait_seconds:g}s apart. "
                "Another process with this User-Agent or IP may be requesting too fast; lower "
                "ACCT445_SEC_MAX_RPS and re-run later."
            ) from None

    def cached(self, relpath: str, url: str, max_age_seconds: float | None) -> bytes:
        """`url`'s body from the cache at `relpath` (None: kept for good), else fetched and cached."""
        path = self.cache_dir / relpath
        if path.exists() and (max_age_seconds is None or fresh(path, max_age_seconds)):
            return path.read_bytes()
        content = self.get(url)
        write_atomic(path, content)
        return content

    def cached_json(self, relpath: str, url: str, max_age_seconds: float | None):
        raw = self.cached(relpath, url, max_age_seconds)
        try:
            return json.loads(raw)
        except ValueError as exc:
            (self.cache_dir / relpath).unlink(missing_ok=True)
            raise EdgarError(f"{url}: malformed JSON ({exc})") from exc

    # ------------------------------------------------------------- endpoints

    def company_tickers(self) -> pd.DataFrame:
        """SEC's ticker -> CIK map (company_tickers.json), cached for `tickers_max_age_days`."""
        data = self.cached_json(
            "company_tickers.json",
            f"{self.www_url}/files/company_tickers.json",
            self.tickers_max_age_days * 86400,
        )
        rows = data.values() if isinstance(data, dict) else data
        return pd.DataFrame(
            [
                {
                    "cik": f"{int(r['cik_str']):010d}",
                    "ticker": str(r["ticker"]).upper(),
                    "title": r.get("title"),
                }
                for r in rows
            ],
            columns=["cik", "ticker", "title"],
        )

    def submissions_json(self, cik) -> dict:
        c = cik10(cik)
        return self.cached_json(
            f"submissions/CIK{c}.json",
            f"{self.data_url}/submissions/CIK{c}.json",
            self.submissions_max_age_hours * 3600,
        )

    def submissions(self, cik, start=None) -> pd.DataFrame:
        """Filings of a company, with the older `filings.files` pages that reach `start`."""
        c = cik10(cik)
        main = self.submissions_json(c)
        filings = main.get("filings", {})
        frames = [_filings_frame(filings.get("recent", {}))]
        for page in filings.get("files", []) or []:
            to = pd.to_datetime(page.get("filingTo"), errors="coerce")
            if start is not None and pd.notna(to) and to < pd.Timestamp(start):
                continue
            older = self.cached_json(
                f"submissions/{page['name']}", f"{self.data_url}/submissions/{page['name']}", None
            )
            frames.append(_filings_frame(older))
        out = (
            pd.concat([f for f in frames if len(f)], ignore_index=True)
            if any(len(f) for f in frames)
            else frames[0]
        )
        out.insert(0, "cik", c)
        return out.drop_duplicates("accession").sort_values("filing_date").reset_index(drop=True)

    def profile(self, cik) -> dict:
        data = self.submissions_json(cik)
        return {
            "cik": cik10(cik),
            "name": data.get("name"),
            "sic": pd.to_numeric(data.get("sic"), errors="coerce"),
        }

    def shares_outstanding(self, cik) -> pd.DataFrame:
        """`dei:EntityCommonStockSharesOutstanding` (companyconcept): end, shares, filed, form.

        Each value is usable from its `filed` date only (METHODS 0).
        """
        c = cik10(cik)
        columns = ["cik", "end", "shares_outstanding", "filed", "form", "accession"]
        try:
            concept = self.cached_json(
                f"concepts/CIK{c}-EntityCommonStockSharesOutstanding.json",
                f"{self.data_url}/api/xbrl/companyconcept/CIK{c}/dei/"
                "EntityCommonStockSharesOutstanding.json",
                self.concept_max_age_days * 86400,
            )
        except EdgarNotFound:
            return pd.DataFrame(columns=columns)
        rows = concept.get("units", {}).get("shares", [])
        out = pd.DataFrame(
            [
                {
                    "cik": c,
                    "end": r.get("end"),
                    "shares_outstanding": r.get("val"),
                    "filed": r.get("filed"),
                    "form": r.get("form"),
                    "accession": r.get("accn"),
                }
                for r in rows
            ],
            columns=columns,
        )
        for col in ("end", "filed"):
            out[col] = pd.to_datetime(out[col], errors="coerce")
        return out.sort_values(["filed", "end"]).reset_index(drop=True)

    def folder_url(self, cik, accession: str) -> str:
        return f"{self.www_url}/Archives/edgar/data/{int(cik10(cik))}/{accession.replace('-', '')}"

    def document_url(self, cik, accession: str, document: str) -> str:
        return f"{self.folder_url(cik, accession)}/{document}"

    def filing_index(self, cik, accession: str) -> list[dict]:
        raw = self.cached(
            f"indexes/{accession}-index.htm",
            f"{self.folder_url(cik, accession)}/{accession}-index.htm",
            None,
        )
        return parse_filing_index(raw.decode("utf-8", "replace"))

    def document(self, cik, accession: str, document: str) -> bytes:
        """A filing document, from the on-disk cache when already downloaded."""
        suffix = Path(document).suffix or ".htm"
        return self.cached(
            f"documents/{accession}/{Path(document).stem}{suffix}",
            self.document_url(cik, accession, document),
            None,
        )

    def exhibit(self, cik, accession: str, exhibit_type: str = "EX-13") -> bytes | None:
        """The filing's exhibit of `exhibit_type` (e.g. EX-13, the annual report), if any."""
        for item in self.filing_index(cik, accession):
            if item["type"].split(".")[0] == exhibit_type.upper():
                return self.document(cik, accession, item["document"])
        return None

    def filer_status(self, cik, fiscal_year: int = 2019) -> dict:
        """Smaller-reporting-company status from the cover page of the FY `fiscal_year` 10-K."""
        subs = self.submissions(cik, start=f"{fiscal_year}-01-01")
        tenk = subs[
            (subs["form"] == "10-K") & (subs["report_date"].dt.year == fiscal_year)
        ].sort_values("filing_date")
        if tenk.empty:
            return {
                "smaller_reporting_company": pd.NA,
                "filer_category": None,
                "filer_status_source": f"no FY{fiscal_year} 10-K on EDGAR",
            }
        first = tenk.iloc[0]
        doc = self.document(cik, first["accession"], first["primary_document"])
        status = cover_page_status(doc)
        status["filer_status_source"] = f"10-K {first['accession']} cover page"
        return status
