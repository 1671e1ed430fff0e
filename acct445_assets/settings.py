"""Process settings read from the environment, validated once at load time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SOURCES = ("sample", "files", "live")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class LiveSettings:
    """Where the `live` source fetches from; tests point the URLs at 127.0.0.1."""

    ken_french_url: str = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp"
    yahoo_url: str = "https://query2.finance.yahoo.com"
    sec_www_url: str = "https://www.sec.gov"
    sec_data_url: str = "https://data.sec.gov"
    sec_user_agent: str = ""
    # SEC allows 10 requests/s per user across all machines; stay below it.
    sec_max_requests_per_second: float = 5.0
    universe_csv: Path | None = None  # default: acct445_assets/data/live_universe.csv
    backoff_seconds: float = 2.0
    rate_limit_wait_seconds: float = 600.0  # SEC blocks a client for about 10 minutes


def _live_settings(env: dict[str, str]) -> LiveSettings:
    base = LiveSettings()
    try:
        rate = float(env.get("ACCT445_SEC_MAX_RPS", base.sec_max_requests_per_second))
        backoff = float(env.get("ACCT445_LIVE_BACKOFF_SECONDS", base.backoff_seconds))
        wait = float(env.get("ACCT445_SEC_RATE_LIMIT_WAIT_SECONDS", base.rate_limit_wait_seconds))
    except ValueError as exc:
        raise SettingsError(f"live settings: {exc}") from None
    if not 0 < rate < 10:
        raise SettingsError(f"ACCT445_SEC_MAX_RPS={rate}: must be above 0 and below 10 (SEC limit)")
    universe = env.get("ACCT445_LIVE_UNIVERSE")
    return LiveSettings(
        ken_french_url=env.get("ACCT445_KEN_FRENCH_URL", base.ken_french_url).rstrip("/"),
        yahoo_url=env.get("ACCT445_YAHOO_URL", base.yahoo_url).rstrip("/"),
        sec_www_url=env.get("ACCT445_SEC_WWW_URL", base.sec_www_url).rstrip("/"),
        sec_data_url=env.get("ACCT445_SEC_DATA_URL", base.sec_data_url).rstrip("/"),
        sec_user_agent=env.get("SEC_USER_AGENT", "").strip(),
        sec_max_requests_per_second=rate,
        universe_csv=Path(universe).expanduser().resolve() if universe else None,
        backoff_seconds=backoff,
        rate_limit_wait_seconds=wait,
    )


@dataclass(frozen=True)
class Settings:
    source: str
    data_dir: Path | None
    warehouse: Path
    sample_dir: Path
    results_dir: Path
    cache_dir: Path
    live: LiveSettings = LiveSettings()


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    source = env.get("ACCT445_SOURCE", "sample").strip().lower() or "sample"
    if source not in SOURCES:
        raise SettingsError(f"ACCT445_SOURCE={source!r} is not one of {', '.join(SOURCES)}")
    data_dir = None
    if source == "files":
        raw = env.get("ACCT445_DATA_DIR")
        if not raw:
            raise SettingsError("ACCT445_SOURCE=files needs ACCT445_DATA_DIR (a directory)")
        data_dir = Path(raw).expanduser().resolve()
        if not data_dir.is_dir():
            raise SettingsError(f"ACCT445_DATA_DIR={raw!r} is not a directory")
    home = Path(env.get("ACCT445_HOME", "data")).expanduser().resolve()
    # Not "warehouse.duckdb": DuckDB names the catalog after the file, and a catalog named like
    # the dbt schema `warehouse` makes `warehouse.<table>` (as the IO manager reads) ambiguous.
    warehouse = Path(env.get("ACCT445_WAREHOUSE", home / "acct445.duckdb")).expanduser().resolve()
    if warehouse.stem.lower() == "warehouse":
        raise SettingsError(
            f"ACCT445_WAREHOUSE={str(warehouse)!r}: a file named warehouse.* clashes with the dbt"
            " schema `warehouse` in DuckDB; use another file name"
        )
    return Settings(
        source=source,
        data_dir=data_dir,
        warehouse=warehouse,
        sample_dir=Path(env.get("ACCT445_SAMPLE_DIR", home / "sample")).expanduser().resolve(),
        results_dir=Path(env.get("ACCT445_RESULTS_DIR", "results")).expanduser().resolve(),
        cache_dir=Path(env.get("ACCT445_CACHE_DIR", home / "cache")).expanduser().resolve(),
        live=_live_settings(env),
    )
