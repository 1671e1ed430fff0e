"""HTTP plumbing shared by the live sources: one retrying `requests` session per host kind.

Retries are urllib3's `Retry` (the maintained one inside `requests`): 429 and 5xx answers,
connection errors and read timeouts are retried with exponential backoff, and a server's
`Retry-After` header is honoured.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)


def retrying_session(
    retries: int = 5,
    backoff_seconds: float = 2.0,
    max_backoff_seconds: float = 120.0,
    headers: dict | None = None,
) -> requests.Session:
    """A session that retries transient failures; the final failed answer is returned as is."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff_seconds,
        backoff_max=max_backoff_seconds,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if headers:
        session.headers.update(headers)
    return session


def fresh(path: Path, max_age_seconds: float) -> bool:
    """True when `path` exists and was written less than `max_age_seconds` ago."""
    try:
        return time.time() - path.stat().st_mtime < max_age_seconds
    except FileNotFoundError:
        return False


def write_atomic(path: Path, content: bytes) -> None:
    """Write through a temporary file, so a reader never sees half a cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content)
    tmp.replace(path)


def read_json(path: Path):
    return json.loads(path.read_bytes())
