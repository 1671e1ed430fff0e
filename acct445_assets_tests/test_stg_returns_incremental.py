"""The incremental `stg_bank_returns`: new sessions appended by delete+insert give exactly the
rows of a full build of all sessions (shared price contract, METHODS.md 0)."""

import numpy as np
import pandas as pd
import pytest

from acct445_assets.assets import warehouse

from .test_warehouse_dbt import VARS, D, build, dbt_resource, make_prices, read, write_inputs

ORDER = "cik, date"


def contract_prices() -> pd.DataFrame:
    """make_prices with every contract column: closes, a split, dividends, source returns."""
    prices = make_prices()
    rng = np.random.default_rng(5)
    prices["close"] = prices["adj_close"] * 1.1
    prices.loc[prices["ticker"] == "BBB", "close"] = np.nan  # adjusted closes only
    prices["dividend"] = np.where(rng.random(len(prices)) < 0.02, 0.25, 0.0)
    prices["split_ratio"] = 1.0
    split = (prices["ticker"] == "AAA") & (prices["date"] == pd.Timestamp("2020-12-29"))
    prices.loc[split, "split_ratio"] = 2.0
    prices.loc[(prices["ticker"] == "AAA") & (prices["date"] >= "2020-12-29"), "close"] /= 2
    prices["ret"] = np.where(prices["ticker"] == "CCC", rng.normal(0, 0.01, len(prices)), np.nan)
    prices["delisting_return"] = np.where(prices["delisted"], -0.2, np.nan)
    return prices


def _ok(invocation, results):
    assert invocation.is_successful(), [r["message"] for r in results if r["status"] != "success"]


def _full(tmp_path, name, prices) -> pd.DataFrame:
    db = tmp_path / name / "acct445.duckdb"
    db.parent.mkdir()
    write_inputs(db, _cnoi(), prices)
    _ok(*build(db))
    return read(db, "warehouse.stg_bank_returns", ORDER)


def _cnoi():
    from .test_warehouse_dbt import make_cnoi

    return make_cnoi()


@pytest.fixture(scope="module")
def prices():
    return contract_prices()


def test_new_sessions_appended_incrementally_equal_a_full_build(tmp_path, prices):
    dates = sorted(prices["date"].unique())
    # The split day and the sessions after it arrive as new days, one run for two sessions.
    cut = pd.Timestamp("2020-12-28")
    db = tmp_path / "inc" / "acct445.duckdb"
    db.parent.mkdir()
    write_inputs(db, _cnoi(), prices[prices["date"] <= cut])
    _ok(*build(db))
    before = read(db, "warehouse.stg_bank_returns", ORDER)
    assert pd.Timestamp(before["date"].max()) == cut

    write_inputs(db, _cnoi(), prices[prices["date"] <= dates[-2]])
    _ok(*build(db))
    write_inputs(db, _cnoi(), prices)
    _ok(*build(db))
    incremental = read(db, "warehouse.stg_bank_returns", ORDER)

    full = _full(tmp_path, "full", prices)
    pd.testing.assert_frame_equal(incremental, full)
    # The day after the split uses the previous (pre-split) close from the table.
    split_day = full[(full["date"] == pd.Timestamp("2020-12-29")) & (full["ticker"] == "AAA")]
    prev = full[(full["date"] == cut) & (full["ticker"] == "AAA")]
    expected = split_day["close"].iloc[0] * 2 / prev["close"].iloc[0] - 1
    dividend = prices.loc[
        (prices["ticker"] == "AAA") & (prices["date"] == pd.Timestamp("2020-12-29")), "dividend"
    ].iloc[0]
    expected += dividend / prev["close"].iloc[0]
    assert split_day["ret"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_an_incremental_run_leaves_earlier_sessions_alone_unless_returns_from_says(
    tmp_path, prices
):
    last = prices["date"].max()
    corrected_day = pd.Timestamp("2020-06-15")
    db = tmp_path / "inc" / "acct445.duckdb"
    db.parent.mkdir()
    write_inputs(db, _cnoi(), prices[prices["date"] < last])
    _ok(*build(db))
    before = read(db, "warehouse.stg_bank_returns", ORDER)

    corrected = prices.copy()
    day = corrected["date"] == corrected_day
    corrected.loc[day, ["adj_close", "close"]] *= 1.05
    write_inputs(db, _cnoi(), corrected)
    _ok(*build(db))
    after = read(db, "warehouse.stg_bank_returns", ORDER)
    old = after["date"] < last
    # Only the new session was built: the corrected day is as it was.
    pd.testing.assert_frame_equal(after[old].reset_index(drop=True), before)

    _ok(*build(db, dbt_vars={**VARS, "returns_from": str(corrected_day.date())}))
    rebuilt = read(db, "warehouse.stg_bank_returns", ORDER)
    pd.testing.assert_frame_equal(rebuilt, _full(tmp_path, "full", corrected))
    assert not rebuilt.equals(after)


def test_returns_from_must_be_a_date(tmp_path, prices):
    db = tmp_path / "acct445.duckdb"
    write_inputs(db, _cnoi(), prices)
    invocation = warehouse.run_dbt(
        dbt_resource(),
        str(db),
        ["build"],
        {**VARS, "returns_from": "2020-01-01; drop x"},
        raise_on_error=False,
    ).wait()
    assert not invocation.is_successful()


def test_delisting_day_from_the_table_compounds_the_source_delisting_return(tmp_path, prices):
    full = _full(tmp_path, "full", prices)
    row = full[full["delisted"]]
    assert row["cik"].tolist() == [D]
    # close 10.0*1.1 on the delisting day, 10.89*1.1 the session before; source dlret -0.2.
    assert row["ret"].iloc[0] == pytest.approx((10.0 / 10.89) * 0.8 - 1, rel=1e-12)


def _context(instance, tags):
    import logging
    from types import SimpleNamespace

    return SimpleNamespace(
        instance=instance, run=SimpleNamespace(tags=tags), log=logging.getLogger("test")
    )


def test_the_asset_rebuilds_from_the_run_partition_and_fully_when_a_var_changed(tmp_path):
    from dagster import AssetMaterialization, DagsterInstance, MetadataValue

    db = tmp_path / "acct445.duckdb"
    instance = DagsterInstance.ephemeral()
    tags = {"dagster/partition": "2025-12-31"}
    # No warehouse yet: a full build.
    assert warehouse.build_args(_context(instance, tags), str(db), VARS, False)[0] == [
        "build",
        "--full-refresh",
    ]
    write_inputs(db, _cnoi(), contract_prices())
    with duckdb_connect(db) as conn:
        conn.execute("create schema warehouse")
        conn.execute("create table warehouse.stg_bank_returns as select 1 as x")
    args, run_vars = warehouse.build_args(_context(instance, tags), str(db), VARS, False)
    assert args == ["build"] and run_vars == {**VARS, "returns_from": "2025-12-31"}
    ranged = {"dagster/asset_partition_range_start": "2025-01-02"}
    assert warehouse.build_args(_context(instance, ranged), str(db), VARS, False)[1][
        "returns_from"
    ] == ("2025-01-02")
    assert warehouse.build_args(_context(instance, tags), str(db), VARS, True)[0][-1] == (
        "--full-refresh"
    )

    def built_with(dbt_vars):
        instance.report_runless_asset_event(
            AssetMaterialization(
                ["warehouse", "stg_bank_returns"],
                metadata={"dbt_vars": MetadataValue.json(dbt_vars)},
            )
        )

    built_with(VARS)
    assert warehouse.build_args(_context(instance, tags), str(db), VARS, False)[0] == ["build"]
    built_with({**VARS, "delisting_return": -0.5})
    args, run_vars = warehouse.build_args(_context(instance, tags), str(db), VARS, False)
    assert args == ["build", "--full-refresh"] and "returns_from" not in run_vars


def duckdb_connect(db):
    import duckdb

    return duckdb.connect(str(db))
