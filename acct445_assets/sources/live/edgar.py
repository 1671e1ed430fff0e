"""SEC EDGAR client resource (live source) that follows the SEC fair-access rules.

- a User-Agent with contact from `SEC_USER_AGENT`, checked before any request;
- at most 10 requests per second across the whole process (one shared limiter);
- retries with exponential backoff on 429/5xx, honouring `Retry-After`, and on
  timeouts, connection errors and truncated/malformed JSON;
- primary documents cached on disk by accession number, so re-runs fetch only new filings.

Base URLs are fields so tests can point the client at 127.0.0.1.
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import requests
from dagster import ConfigurableResource, get_dagster_logger

SEC_MAX_RPS = 10.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class EdgarError(RuntimeError):
    pass


class EdgarConfigError(EdgarError):
    pass


class EdgarNotFound(EdgarError):
    pass


class RateLimiter:
    """Spaces request starts at least 1/rate apart, across threads (so <= rate in any second)."""

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> float:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return start


_PROCESS_LIMITER = RateLimiter(SEC_MAX_RPS)
_EXTRA_LIMITERS: dict[float, RateLimiter] = {}
_EXTRA_LOCK = threading.Lock()
_SESSIONS = threading.local()
# Indirection so tests can observe backoff waits without sleeping.
_retry_sleep = time.sleep


def process_limiter() -> RateLimiter:
    return _PROCESS_LIMITER


def _limiter_for(rate: float) -> RateLimiter | None:
    if rate >= SEC_MAX_RPS:
        return None
    with _EXTRA_LOCK:
        lim = _EXTRA_LIMITERS.get(rate)
        if lim is None:
            lim = _EXTRA_LIMITERS[rate] = RateLimiter(rate)
        return lim


def _session() -> requests.Session:
    s = getattr(_SESSIONS, "session", None)
    if s is None:
        s = _SESSIONS.session = requests.Session()
    return s


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class EdgarClient(ConfigurableResource):
    """Fair-access SEC EDGAR client: tickers, submissions, primary documents, company facts."""

    user_agent: str | None = None  # default: the SEC_USER_AGENT environment variable
    data_base_url: str = "https://data.sec.gov"
    archives_base_url: str = "https://www.sec.gov/Archives/edgar/data"
    tickers_url: str = "https://www.sec.gov/files/company_tickers.json"
    cache_dir: str = "data/cache/edgar"
    max_requests_per_second: float = SEC_MAX_RPS
    timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

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

    def _wait_turn(self) -> None:
        _PROCESS_LIMITER.acquire()
        own = _limiter_for(float(self.max_requests_per_second))
        if own is not None:
            own.acquire()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_seconds)
        return min(self.backoff_seconds * (2**attempt), self.max_backoff_seconds)

    def request(self, url: str, *, kind: str = "json"):
        """GET `url` with limits and retries; `kind` is json | text | bytes."""
        headers = {"User-Agent": self.resolved_user_agent(), "Accept-Encoding": "gzip, deflate"}
        log = get_dagster_logger()
        last_error = "no attempt"
        for attempt in range(self.max_retries + 1):
            self._wait_turn()
            retry_after = None
            try:
                resp = _session().get(url, headers=headers, timeout=self.timeout_seconds)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    if kind == "bytes":
                        return resp.content
                    if kind == "text":
                        return resp.text
                    try:
                        return resp.json()
                    except ValueError as exc:
                        last_error = f"malformed JSON ({exc})"
                elif resp.status_code == 404:
                    raise EdgarNotFound(f"404 Not Found: {url}")
                elif resp.status_code in RETRY_STATUSES:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    last_error = f"HTTP {resp.status_code}"
                else:
                    raise EdgarError(f"HTTP {resp.status_code} from {url}: {resp.text[:200]}")
            if attempt < self.max_retries:
                wait = self._backoff(attempt, retry_after)
                log.warning(
                    f"EDGAR {url}: {last_error}; retry {attempt + 1}/{self.max_retries} in {wait:.1f}s"
                )
                _retry_sleep(wait)
        raise EdgarError(f"{url}: giving up after {self.max_retries + 1} attempts ({last_error})")

    # ------------------------------------------------------------- endpoints

    def company_tickers(self) -> pd.DataFrame:
        data = self.request(self.tickers_url)
        rows = data.values() if isinstance(data, dict) else data
        out = pd.DataFrame(
            [
                {
                    "cik": f"{int(r['cik_str']):010d}",
                    "ticker": str(r["ticker"]).upper(),
                    "title": r.get("title"),
                }
                for r in rows
            ]
        )
        return out

    def submissions(self, cik: str | int) -> pd.DataFrame:
        """All filings of a company, including the older pages listed under `filings.files`."""
        cik10 = f"{int(cik):010d}"
        main = self.request(f"{self.data_base_url}/submissions/CIK{cik10}.json")
        frames = [self._filings_frame(main.get("filings", {}).get("recent", {}))]
        for page in main.get("filings", {}).get("files", []) or []:
            older = self.request(f"{self.data_base_url}/submissions/{page['name']}")
            frames.append(self._filings_frame(older))
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if out.empty:
            return out
        out.insert(0, "cik", cik10)
        out = out.drop_duplicates("accession").sort_values("filing_date").reset_index(drop=True)
        return out

    @staticmethod
    def _filings_frame(block: dict) -> pd.DataFrame:
        if not block or "accessionNumber" not in block:
            return pd.DataFrame(
                columns=["accession", "form", "filing_date", "report_date", "primary_document"]
            )
        n = len(block["accessionNumber"])

        def col(name):
            values = block.get(name) or [None] * n
            return list(values) + [None] * (n - len(values))

        return pd.DataFrame(
            {
                "accession": col("accessionNumber"),
                "form": col("form"),
                "filing_date": pd.to_datetime(col("filingDate"), errors="coerce"),
                "report_date": pd.to_datetime(
                    pd.Series(col("reportDate")).replace("", None), errors="coerce"
                ),
                "primary_document": col("primaryDocument"),
            }
        )

    def document_url(self, cik: str | int, accession: str, primary_document: str) -> str:
        return (
            f"{self.archives_base_url}/{int(cik)}/{accession.replace('-', '')}/{primary_document}"
        )

    def cached_document_path(self, accession: str, primary_document: str = "") -> Path:
        suffix = Path(primary_document).suffix or ".htm"
        return Path(self.cache_dir) / "documents" / f"{accession}{suffix}"

    def primary_document(self, cik: str | int, accession: str, primary_document: str) -> bytes:
        """The filing's primary document, from the on-disk cache when already downloaded."""
        path = self.cached_document_path(accession, primary_document)
        if path.exists():
            return path.read_bytes()
        content = self.request(self.document_url(cik, accession, primary_document), kind="bytes")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
        return content

    def shares_outstanding(self, cik: str | int) -> pd.DataFrame:
        """`dei:EntityCommonStockSharesOutstanding` from XBRL company facts: end, shares, filed, form, accession."""
        cik10 = f"{int(cik):010d}"
        facts = self.request(f"{self.data_base_url}/api/xbrl/companyfacts/CIK{cik10}.json")
        concept = (
            facts.get("facts", {}).get("dei", {}).get("EntityCommonStockSharesOutstanding", {})
        )
        rows = concept.get("units", {}).get("shares", [])
        out = pd.DataFrame(
            [
                {
                    "cik": cik10,
                    "end": r.get("end"),
                    "shares_outstanding": r.get("val"),
                    "filed": r.get("filed"),
                    "form": r.get("form"),
                    "accession": r.get("accn"),
                }
                for r in rows
            ],
            columns=["cik", "end", "shares_outstanding", "filed", "form", "accession"],
        )
        for c in ("end", "filed"):
            out[c] = pd.to_datetime(out[c], errors="coerce")
        return out.sort_values(["end", "filed"]).reset_index(drop=True)
