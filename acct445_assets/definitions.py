"""The project's one `Definitions` object."""

import os

from dagster import (
    Definitions,
    in_process_executor,
    load_asset_checks_from_modules,
    load_assets_from_modules,
)

from .assets import ASSET_MODULES
from .ops.automation import sensors
from .ops.instance_tuning import relax_sqlite_commits
from .ops.schedules import jobs, schedules
from .resources import build_resources
from .settings import load_settings

settings = load_settings()

# A `dagster asset materialize --partition-range` over ten years of sessions otherwise logs
# one planned event per partition before the run starts (minutes on SQLite). The cost: a
# failed backfill run leaves its partitions "missing", not "failed". Processes that do not
# import this module (webserver, daemon) get the same setting from the Makefile / compose.
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "1")
relax_sqlite_commits()

defs = Definitions(
    assets=load_assets_from_modules(ASSET_MODULES),
    asset_checks=load_asset_checks_from_modules(ASSET_MODULES),
    resources=build_resources(settings),
    jobs=jobs,
    schedules=schedules,
    sensors=sensors,
    # One embedded DuckDB file takes one writer at a time, and a subprocess per step costs
    # a full re-import; steps of a run therefore share one process.
    executor=in_process_executor,
)
