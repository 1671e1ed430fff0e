"""Resources per data source; `ACCT445_SOURCE` picks one implementation of each."""

from __future__ import annotations

import shutil
import sys
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from packaging.version import Version

from ..settings import Settings
from .filings import build_filing_source, edgar_resource
from .io_manager import AtomicDuckDBIOManager
from .market import (
    FileFactorSource,
    FilePriceSource,
    KenFrenchFactorSource,
    SampleFactorSource,
    SamplePriceSource,
    YahooPriceSource,
)

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


class WarehouseDbt(DbtCliResource):
    """dbt for the warehouse. The stock resource asks `dbt --version` before every build,
    a whole dbt start-up (5 s here) on each daily run; when the executable is this
    environment's own dbt its version is the installed dbt-core's. It also loads dbt in
    process for an adapter this project never uses."""

    @cached_property
    def _cli_version(self) -> Version:
        found = shutil.which(self.dbt_executable)
        if found and Path(found).resolve().parent == (Path(sys.prefix) / "bin").resolve():
            return Version(installed_version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        # The stock resource loads dbt's project, profile and adapter in this process before
        # every build (3 s) for column metadata and row counts fetched through it; the
        # warehouse asset fetches neither (it counts rows itself once dbt has exited).
        return None


def build_resources(settings: Settings) -> dict:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    database = str(settings.warehouse)
    if settings.source == "sample":
        sample_dir = str(settings.sample_dir)
        market = {
            "factor_source": SampleFactorSource(sample_dir=sample_dir),
            "price_source": SamplePriceSource(sample_dir=sample_dir),
        }
    elif settings.source == "files":
        data_dir = str(settings.data_dir)
        market = {
            "factor_source": FileFactorSource(data_dir=data_dir),
            "price_source": FilePriceSource(data_dir=data_dir),
        }
    else:
        live = settings.live
        market = {
            "factor_source": KenFrenchFactorSource(
                base_url=live.ken_french_url, backoff_seconds=live.backoff_seconds
            ),
            "price_source": YahooPriceSource(
                edgar=edgar_resource(settings),
                base_url=live.yahoo_url,
                universe_csv=str(live.universe_csv) if live.universe_csv else None,
                backoff_seconds=live.backoff_seconds,
            ),
        }
    return {
        **market,
        "io_manager": AtomicDuckDBIOManager(database=database),
        "duckdb": DuckDBResource(database=database),
        "dbt": WarehouseDbt(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR)),
        "filing_source": build_filing_source(settings),
    }
