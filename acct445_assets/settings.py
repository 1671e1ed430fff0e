"""Process settings read from the environment, validated once at load time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SOURCES = ("sample", "files", "live")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    source: str
    data_dir: Path | None
    warehouse: Path
    sample_dir: Path
    results_dir: Path
    cache_dir: Path


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
    )
