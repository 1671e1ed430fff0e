"""``python -m acct445_assets_tests.params_probe WAREHOUSE.duckdb``: materialize the research
assets on a warehouse file with whatever parameters ``ACCT445_PARAMS`` points at.

A separate process because asset config defaults are read from params.yaml when the asset
modules are imported, exactly as in a `dagster asset materialize` run.
"""

import sys

import duckdb
from dagster import DagsterInstance, SourceAsset, materialize

from acct445_assets.research.portfolios import build_rebalance_universe
from acct445_assets.resources.io_manager import AtomicDuckDBIOManager

INPUT_KEYS = [
    ["warehouse", "rebalance_universe"],
    ["warehouse", "stg_bank_returns"],
    ["warehouse", "stg_cnoi"],
    ["warehouse", "stg_factors_daily"],
    ["warehouse", "stg_factors_monthly"],
    ["warehouse", "bank_quarter_panel"],
    ["raw", "benchmark_prices"],
]


def write_warehouse(db: str, data: dict) -> None:
    """The research assets' warehouse inputs, from ``research_inputs.sample_inputs``."""
    tables = {
        "warehouse.rebalance_universe": build_rebalance_universe(data["cnoi"], data["returns"]),
        "warehouse.stg_bank_returns": data["returns"],
        "warehouse.stg_cnoi": data["cnoi"],
        "warehouse.stg_factors_daily": data["factors_daily"],
        "warehouse.stg_factors_monthly": data["factors_monthly"],
        "warehouse.bank_quarter_panel": data["panel"],
        "raw.benchmark_prices": data["benchmarks"],
    }
    with duckdb.connect(db) as con:
        for name, frame in tables.items():
            con.execute(f"create schema if not exists {name.split('.')[0]}")
            con.register("frame", frame)
            con.execute(f"create or replace table {name} as select * from frame")
            con.unregister("frame")


def main(db: str) -> int:
    from acct445_assets.assets import research

    assets = [
        research.decile_portfolios,
        research.decile_returns,
        research.factor_alphas,
        research.event_study_cars,
        research.did_estimates,
        research.panel_regression_asset,
    ]
    result = materialize(
        [*assets, *[SourceAsset(key=k) for k in INPUT_KEYS]],
        resources={"io_manager": AtomicDuckDBIOManager(database=db)},
        instance=DagsterInstance.ephemeral(),
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
