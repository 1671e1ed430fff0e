import os
import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize
from dagster_duckdb import DuckDBResource

from acct445_assets.assets import market
from acct445_assets.resources.io_manager import AtomicDuckDBIOManager
from acct445_assets.resources.market import (
    FileFactorSource,
    FilePriceSource,
    SampleFactorSource,
    SamplePriceSource,
)

from .test_market_sources import write_files_layout

UNPARTITIONED = [
    market.bank_universe,
    market.ff_factors_daily,
    market.ff_factors_monthly,
    market.benchmark_prices,
]
CHECKS = [
    market.ff_factors_daily_calendar,
    market.ff_factors_monthly_plausible,
    market.bank_prices_checks,
]


def _resources(db, factor_source, price_source):
    return {
        "factor_source": factor_source,
        "price_source": price_source,
        "io_manager": AtomicDuckDBIOManager(database=str(db)),
        "duckdb": DuckDBResource(database=str(db)),
    }


def _materialize_all(resources, first, last, instance=None):
    instance = instance or DagsterInstance.ephemeral()
    ingest = materialize(
        UNPARTITIONED + CHECKS[:2], resources=resources, instance=instance, raise_on_error=False
    )
    prices = materialize(
        [market.bank_prices, market.bank_universe, market.bank_prices_checks],
        selection=[market.bank_prices],
        resources=resources,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        raise_on_error=False,
    )
    return ingest, prices


def test_sample_source_materializes_the_market_group(tmp_path):
    db = tmp_path / "w.duckdb"
    cfg = dict(n_banks=6, start="2022-11-01", end="2023-06-30", sample_dir=str(tmp_path / "sample"))
    ingest, prices = _materialize_all(
        _resources(db, SampleFactorSource(**cfg), SamplePriceSource(**cfg)),
        "2022-11-01",
        "2023-06-30",
    )
    assert ingest.success and prices.success
    checks = [
        e.asset_check_evaluation_data
        for e in ingest.all_events + prices.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert checks and all(c.passed for c in checks)
    with duckdb.connect(str(db), read_only=True) as con:
        n_banks = con.execute("select count(*) from raw.bank_universe").fetchone()[0]
        days = con.execute(
            "select count(distinct date), min(date), max(date) from raw.bank_prices"
        ).fetchone()
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns where table_name='bank_prices'"
            ).fetchall()
        )
        delisted = con.execute("select ticker, date from raw.bank_prices where delisted").fetchall()
    assert n_banks == 6
    assert (
        days[1] == pd.Timestamp("2022-11-01").date()
        and days[2] == pd.Timestamp("2023-06-30").date()
    )
    assert types["date"] == "DATE"
    assert len(delisted) == 3  # the three failing banks of the sample
    meta = prices.asset_materializations_for_node("raw__bank_prices")[0].metadata
    assert meta["tickers_with_data"].value == 6
    truth_path = (
        ingest.asset_materializations_for_node("raw__bank_universe")[0]
        .metadata["truth_record"]
        .value
    )
    import json

    truth = json.loads(open(truth_path).read())
    assert truth["config"]["n_banks"] == 6 and len(truth["latent_opacity"]) == 6


def test_files_source_and_bad_input_keeps_previous_data(tmp_path):
    root = write_files_layout(tmp_path / "data")
    db = tmp_path / "w.duckdb"
    res = _resources(db, FileFactorSource(data_dir=str(root)), FilePriceSource(data_dir=str(root)))
    instance = DagsterInstance.ephemeral()
    ingest, prices = _materialize_all(res, "2023-03-06", "2023-03-14", instance)
    assert ingest.success and prices.success
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute("select * from raw.bank_prices order by date, ticker").df()
        factors_before = con.execute("select * from raw.ff_factors_daily order by date").df()
    assert set(before["cik"]) == {"0000000123", "0000000456"}
    assert len(factors_before) == 7 and factors_before["mom"].isna().sum() == 1

    bad = pd.read_csv(root / "prices.csv")
    bad.loc[5, "adj_close"] = 0.0
    bad.to_csv(root / "prices.csv", index=False)
    (root / "factors" / "F-F_Research_Data_5_Factors_2x3_daily.CSV").write_text(
        ",Mkt-RF,SMB,HML,RF\n20230306,1,2\n"
    )
    _, failed_prices = _materialize_all(res, "2023-03-06", "2023-03-14", instance)
    assert not failed_prices.success
    failure = next(e for e in failed_prices.all_events if e.event_type_value == "STEP_FAILURE")
    assert "prices.csv: row 7, column adj_close: price must be positive" in str(
        failure.event_specific_data.error
    )
    with duckdb.connect(str(db), read_only=True) as con:
        pd.testing.assert_frame_equal(
            before, con.execute("select * from raw.bank_prices order by date, ticker").df()
        )
        pd.testing.assert_frame_equal(
            factors_before, con.execute("select * from raw.ff_factors_daily order by date").df()
        )


@pytest.mark.integration
def test_cli_materializes_ff_factors_daily(tmp_path):
    env = {**os.environ, "ACCT445_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dh")}
    (tmp_path / "dh").mkdir()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "acct445_assets.definitions",
            "--select",
            "raw/ff_factors_daily",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    with duckdb.connect(str(tmp_path / "acct445.duckdb"), read_only=True) as con:
        n, first = con.execute("select count(*), min(date) from raw.ff_factors_daily").fetchone()
    assert n > 1900 and str(first) == "2018-01-02"


@pytest.mark.integration
def test_cli_backfill_plans_one_event_and_writes_every_partition(tmp_path):
    """A `--partition-range` backfill logs one planned event for the range, not one per
    session (2,500 SQLite writes before a ten-year backfill starts), and still records a
    materialization per session."""
    from dagster import AssetKey, DagsterEventType, DagsterInstance

    env = {**os.environ, "ACCT445_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dh")}
    env.pop("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", None)  # the project sets it
    (tmp_path / "dh").mkdir()
    base = [sys.executable, "-m", "dagster", "asset", "materialize", "-m"]
    for extra in (
        ["acct445_assets.definitions", "--select", "raw/bank_universe"],
        [
            "acct445_assets.definitions",
            "--select",
            "raw/bank_prices",
            "--partition-range",
            "2023-03-06...2023-03-13",
        ],
    ):
        out = subprocess.run(base + extra, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    with DagsterInstance.from_config(str(tmp_path / "dh")) as instance:
        run = instance.get_run_records(limit=1)[0].dagster_run
        planned = instance.all_logs(
            run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        )
        done = instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    prices = AssetKey(["raw", "bank_prices"])
    assert len([e for e in planned if e.dagster_event.asset_key == prices]) == 1
    partitions = sorted(
        e.dagster_event.partition for e in done if e.dagster_event.asset_key == prices
    )
    assert partitions == [
        "2023-03-06",
        "2023-03-07",
        "2023-03-08",
        "2023-03-09",
        "2023-03-10",
        "2023-03-13",
    ]
