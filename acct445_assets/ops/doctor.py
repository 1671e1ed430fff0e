"""`python -m acct445_assets.cli doctor`: is this machine set up for ACCT445_SOURCE=live?

Checks, in plain words: the SEC User-Agent, the cache directory, and that every live
endpoint answers (one small request each, within the EDGAR rate limit).
"""

from __future__ import annotations

import sys
import tempfile

import requests

from ..settings import Settings, SettingsError, load_settings
from ..sources.live.edgar import EdgarClient, EdgarError
from ..sources.live.kenfrench import KEN_FRENCH_DATASETS, KenFrenchFactors
from ..sources.live.yahoo import YahooPrices


def _reachable(name: str, url: str, **kwargs) -> str | None:
    try:
        resp = requests.get(url, timeout=15, **kwargs)
    except requests.RequestException as exc:
        return f"{name} is not reachable at {url}: {type(exc).__name__}"
    if resp.status_code != 200:
        return f"{name} answered HTTP {resp.status_code} at {url}"
    return None


def run_doctor(settings: Settings) -> list[str]:
    """What is wrong with the live set-up, one sentence each; empty when all is well."""
    problems = []
    live = settings.live
    cache = settings.cache_dir
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache):
            pass
    except OSError as exc:
        problems.append(f"The cache directory {cache} is not writable ({exc.strerror}).")
    edgar = EdgarClient(
        cache_dir=cache / "edgar",
        user_agent=live.sec_user_agent,
        www_url=live.sec_www_url,
        data_url=live.sec_data_url,
        max_requests_per_second=live.sec_max_requests_per_second,
        retries=1,
        rate_limit_retries=0,
    )
    try:
        agent = edgar.resolved_user_agent()
    except EdgarError as exc:
        problems.append(f"{exc}.")
        agent = None
    if agent:
        for url in (
            f"{live.sec_www_url}/files/company_tickers.json",
            f"{live.sec_data_url}/submissions/CIK0000019617.json",
        ):
            try:
                edgar._get_once(url)
            except EdgarError as exc:
                problems.append(f"SEC EDGAR did not answer as expected: {exc}")
    ken = KenFrenchFactors(live.ken_french_url)
    problem = _reachable("Ken French's data library", ken.url(KEN_FRENCH_DATASETS["daily"][0]))
    if problem:
        problems.append(problem + ".")
    yahoo = YahooPrices(base_url=live.yahoo_url)
    problem = _reachable(
        "Yahoo's chart API",
        yahoo.chart_url("SPY"),
        params={"range": "5d", "interval": "1d"},
        headers=yahoo.session().headers,
    )
    if problem:
        problems.append(problem + ".")
    return problems


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Settings are wrong: {exc}")
        return 1
    problems = run_doctor(settings)
    for problem in problems:
        print(f"- {problem}")
    if not problems:
        print("The live set-up looks right: User-Agent set, cache writable, endpoints reachable.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
