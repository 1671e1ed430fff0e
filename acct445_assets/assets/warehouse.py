"""Group `warehouse`: the dbt-duckdb models (schema `warehouse`) and the NYSE session table.

Model keys are `["warehouse", <model>]`, the schema and table dbt writes, so Python assets
read them through the DuckDB IO manager like any other asset. dbt tests become asset checks.
"""

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb as duckdb_client
import pandas as pd
import yaml
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MetadataValue,
    Output,
    asset,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_duckdb import DuckDBResource

from acct445_assets.calendar import CALENDAR_FIRST, CALENDAR_LAST, trading_days

# Absolute imports: `dagster-dbt project prepare-and-package --file` loads this file alone.
from acct445_assets.params import section

GROUP = "warehouse"
SCHEMA = "warehouse"
DUCKDB_POOL = "duckdb_writer"
WAREHOUSE_ENV = "ACCT445_WAREHOUSE"
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

DBT_SOURCES = ("dbt_project.yml", "models", "macros", "tests")


def manifest_is_stale(project_dir: Path, manifest_path: Path) -> bool:
    """True when the manifest is missing or older than any model, macro, test or project file.

    The asset definitions (models, and dbt tests as checks) come from the manifest: one
    parsed before a model changed describes a graph dbt no longer builds.
    """
    if not manifest_path.exists():
        return True
    built = manifest_path.stat().st_mtime
    for name in DBT_SOURCES:
        path = project_dir / name
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        if any(f.stat().st_mtime > built for f in files):
            return True
    return False


warehouse_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
warehouse_project.prepare_if_dev()
if manifest_is_stale(DBT_PROJECT_DIR, warehouse_project.manifest_path):
    # `make install` and the Docker build prepare the manifest; a bare checkout, or one where
    # a model changed since, parses here rather than loading a graph that is not the models'.
    warehouse_project.preparer.prepare(warehouse_project)


def default_dbt_vars() -> dict[str, Any]:
    signal, portfolios = section("signal"), section("portfolios")
    return {
        "lag_days": int(signal.get("lag_days", 2)),
        "max_signal_age": int(signal.get("max_signal_age", 200)),
        "delisting_return": float(signal.get("delisting_return", -0.30)),
        "rebalance": str(portfolios.get("rebalance", "quarterly")),
    }


_DEFAULTS = default_dbt_vars()


class WarehouseConfig(Config):
    """dbt vars of the warehouse models; defaults from params.yaml (METHODS.md 0 and 3)."""

    lag_days: int = _DEFAULTS["lag_days"]
    max_signal_age: int = _DEFAULTS["max_signal_age"]
    delisting_return: float = _DEFAULTS["delisting_return"]
    rebalance: str = _DEFAULTS["rebalance"]
    # Rebuild the incremental models from scratch (they also are when a var or CNOI changed).
    full_refresh: bool = False

    def dbt_vars(self) -> dict[str, Any]:
        if self.rebalance not in ("quarterly", "monthly"):
            raise ValueError(f"rebalance={self.rebalance!r} must be 'quarterly' or 'monthly'")
        if self.lag_days < 0 or self.max_signal_age < 0:
            raise ValueError("lag_days and max_signal_age must be non-negative")
        if not -1.0 <= self.delisting_return <= 0.0:
            raise ValueError(f"delisting_return={self.delisting_return} must lie in [-1, 0]")
        return {
            "lag_days": self.lag_days,
            "max_signal_age": self.max_signal_age,
            "delisting_return": self.delisting_return,
            "rebalance": self.rebalance,
        }


class WarehouseTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return AssetKey([SCHEMA, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return GROUP
        return super().get_group_name(dbt_resource_props)


RETURNS_FROM_ENV = "ACCT445_RETURNS_FROM"
# dbt's partial parse is keyed by the vars: vars equal to the project's own fallbacks are
# left out, so builds with the default parameters re-use the previous build's parse.
PROJECT_VARS = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


@contextmanager
def _dbt_env(database: str, returns_from: str | None) -> Iterator[None]:
    values = {WAREHOUSE_ENV: str(Path(database).resolve()), RETURNS_FROM_ENV: returns_from}
    previous = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_dbt(
    dbt: DbtCliResource,
    database: str,
    args: list[str],
    dbt_vars: Mapping[str, Any],
    context: AssetExecutionContext | None = None,
    raise_on_error: bool = True,
) -> DbtCliInvocation:
    """Start `dbt <args> --vars ...` on the warehouse file `database` (the IO manager's file).

    ``dbt_vars["returns_from"]``, the first session a run rewrote, reaches the models as the
    environment variable ACCT445_RETURNS_FROM: as a var, its change every day would make
    dbt re-parse the whole project at each run."""
    dbt_vars = dict(dbt_vars)
    returns_from = dbt_vars.pop("returns_from", None)
    changed = {k: v for k, v in dbt_vars.items() if PROJECT_VARS.get(k, object()) != v}
    # The subprocess takes the environment at this call.
    with _dbt_env(database, None if returns_from is None else str(returns_from)):
        return dbt.cli(
            [*args, *(["--vars", json.dumps(changed)] if changed else [])],
            context=context,
            raise_on_error=raise_on_error,
        )


def keep_partial_parse(target_path: Path) -> None:
    """Make this build's parse the next build's start: dagster-dbt copies the project's
    target/partial_parse.msgpack into each invocation's own target. The one `make install`
    leaves there was parsed for another warehouse path (dbt keys its parse by the profile),
    so without this every build re-parsed the whole project."""
    built = target_path / "partial_parse.msgpack"
    if not built.exists():
        return
    kept = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
    staged = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(built, staged)
        os.replace(staged, kept)
    except OSError:
        # A read-only install: each build re-parses, as dbt does by itself.
        staged.unlink(missing_ok=True)


def _row_counts(database: str) -> dict[str, int]:
    with duckdb_client.connect(database, read_only=True) as conn:
        # Fully qualified: the catalog is named after the file, which may be "warehouse" too.
        catalog = conn.execute("select current_database()").fetchone()[0]
        tables = conn.execute(
            "select table_name from information_schema.tables"
            " where table_catalog = ? and table_schema = ?",
            [catalog, SCHEMA],
        ).fetchall()
        return {
            name: conn.execute(f'select count(*) from "{catalog}"."{SCHEMA}"."{name}"').fetchone()[
                0
            ]
            for (name,) in tables
        }


INCREMENTAL_MODEL = "stg_bank_returns"
# Inputs of the incremental models other than bank_prices: the marts rebuild only the periods
# new prices touch, so a new version of any of these needs a full refresh.
FULL_REFRESH_INPUTS = (
    AssetKey(["disclosure", "cnoi_scores"]),
    AssetKey(["disclosure", "cecl_adoption"]),
    AssetKey(["raw", "trading_calendar"]),
)
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"


def _earliest_session_of_run(tags: Mapping[str, str]) -> str | None:
    """The first ``bank_prices`` session a run (re)wrote: from here on returns are rebuilt."""
    for tag in (PARTITION_TAG, RANGE_START_TAG):
        value = tags.get(tag)
        if value:
            return value
    return None


def build_args(
    context: AssetExecutionContext,
    database: str,
    dbt_vars: Mapping[str, Any],
    full_refresh: bool,
) -> tuple[list[str], dict[str, Any]]:
    """``dbt build`` arguments: incremental, except a full refresh when asked, when the vars
    the tables were built with differ (a new delisting_return changes every delisting day), or
    when an input other than the prices was materialized since (a backfilled CNOI score
    changes quarters the new prices do not touch)."""
    instance = context.instance
    previous = instance.get_latest_materialization_event(AssetKey([SCHEMA, INCREMENTAL_MODEL]))
    built_with = (
        previous.asset_materialization.metadata.get("dbt_vars") if previous is not None else None
    )
    if built_with is not None and built_with.value != dict(dbt_vars):
        context.log.info(
            f"dbt vars changed since the last build ({built_with.value}): full refresh"
        )
        full_refresh = True
    if previous is not None:
        for key in FULL_REFRESH_INPUTS:
            event = instance.get_latest_materialization_event(key)
            if event is not None and event.timestamp > previous.timestamp:
                context.log.info(
                    f"{key.to_user_string()} changed since the last build: full refresh"
                )
                full_refresh = True
    if (
        full_refresh
        or not Path(database).exists()
        or INCREMENTAL_MODEL not in _row_counts(database)
    ):
        return ["build", "--full-refresh"], dict(dbt_vars)
    run_vars = dict(dbt_vars)
    first = _earliest_session_of_run(context.run.tags)
    if first is not None:
        run_vars["returns_from"] = first
    return ["build"], run_vars


@dbt_assets(
    manifest=warehouse_project.manifest_path,
    project=warehouse_project,
    dagster_dbt_translator=WarehouseTranslator(),
    pool=DUCKDB_POOL,
    name="warehouse_dbt_models",
)
def warehouse_dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    duckdb: DuckDBResource,
    config: WarehouseConfig,
):
    dbt_vars = config.dbt_vars()
    args, run_vars = build_args(context, duckdb.database, dbt_vars, config.full_refresh)
    invocation = run_dbt(
        dbt, duckdb.database, args, run_vars, context=context, raise_on_error=False
    )
    # Row counts are read after dbt exits: DuckDB lets one process hold the file for writing.
    events = list(invocation.stream())
    counts = _row_counts(duckdb.database)
    for event in events:
        if isinstance(event, Output):
            table = context.asset_key_for_output(event.output_name).path[-1]
            yield event.with_metadata(
                {
                    **event.metadata,
                    "dagster/row_count": counts.get(table, 0),
                    "dbt_vars": MetadataValue.json(dbt_vars),
                }
            )
        else:
            yield event
    error = invocation.get_error()
    if error is not None:
        raise error
    keep_partial_parse(Path(invocation.target_path))
    # Each invocation writes its own target/<id>/; a daily run would pile them up forever.
    # Failed runs keep theirs (compiled SQL, run_results.json) for diagnosis.
    shutil.rmtree(invocation.target_path, ignore_errors=True)


@asset(
    key=["raw", "trading_calendar"],
    group_name=GROUP,
    pool=DUCKDB_POOL,
    kinds={"python"},
)
def trading_calendar() -> Output[pd.DataFrame]:
    """NYSE sessions (exchange-calendars XNYS), past and future, for lags counted in sessions."""
    frame = pd.DataFrame({"date": trading_days(CALENDAR_FIRST, CALENDAR_LAST)})
    return Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "date_range": f"{frame['date'].min().date()} .. {frame['date'].max().date()}",
        },
    )
