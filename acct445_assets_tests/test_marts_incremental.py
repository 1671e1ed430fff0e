"""The incremental marts: a daily run rebuilds only the months, quarters and rebalance dates its
new sessions touch, and gives exactly the rows of a full build of all sessions."""

import duckdb
import pandas as pd
import pytest

from acct445_assets.assets import warehouse

from .test_stg_returns_incremental import _context, contract_prices
from .test_warehouse_dbt import VARS, build, make_cnoi, read, write_inputs

MARTS = {
    "bank_month_returns": "cik, month_end",
    "bank_quarter_panel": "cik, quarter",
    "rebalance_universe": "rebalance_date, cik",
    "stg_bank_returns": "cik, date",
}
# Built in full up to FIRST_LAST; then the quarter's last session (a new rebalance date), the
# first session of a new month and quarter, and a month of sessions into a new month.
FIRST_LAST = "2020-06-26"
ARRIVALS = ("2020-06-30", "2020-07-01", "2020-08-03")
CORRECTED_DAY = pd.Timestamp("2020-06-15")


def _ok(invocation, results):
    assert invocation.is_successful(), [r["message"] for r in results if r["status"] != "success"]


def _tables(db) -> dict[str, pd.DataFrame]:
    return {name: read(db, f"warehouse.{name}", order) for name, order in MARTS.items()}


def _full_build(tmp_path, name, prices) -> dict[str, pd.DataFrame]:
    db = tmp_path / name / "acct445.duckdb"
    db.parent.mkdir()
    write_inputs(db, make_cnoi(), prices)
    _ok(*build(db, args=("build", "--full-refresh")))
    return _tables(db)


def _assert_same_tables(actual, expected):
    for name, frame in expected.items():
        assert len(frame) > 0, name
        pd.testing.assert_frame_equal(actual[name], frame, obj=name)


@pytest.fixture(scope="module")
def prices():
    return contract_prices()


def test_daily_runs_and_a_reingested_session_equal_a_full_build(tmp_path, prices):
    db = tmp_path / "inc" / "acct445.duckdb"
    db.parent.mkdir()
    write_inputs(db, make_cnoi(), prices[prices["date"] <= FIRST_LAST])
    _ok(*build(db))
    for last in ARRIVALS:
        write_inputs(db, make_cnoi(), prices[prices["date"] <= last])
        # The daily job's vars: returns_from is the run's partition, the newest session.
        _ok(*build(db, dbt_vars={**VARS, "returns_from": last}))
    daily = _tables(db)
    assert pd.Timestamp("2020-06-30") in set(daily["rebalance_universe"]["rebalance_date"])
    assert "2020Q3" in set(daily["bank_quarter_panel"]["quarter"])
    _assert_same_tables(
        daily, _full_build(tmp_path, "full", prices[prices["date"] <= ARRIVALS[-1]])
    )

    # A corrected earlier session (the quarter before the table's last one) re-ingested.
    corrected = prices[prices["date"] <= ARRIVALS[-1]].copy()
    day = corrected["date"] == CORRECTED_DAY
    corrected.loc[day, ["adj_close", "close"]] *= 1.05
    write_inputs(db, make_cnoi(), corrected)
    _ok(*build(db, dbt_vars={**VARS, "returns_from": str(CORRECTED_DAY.date())}))
    rebuilt = _tables(db)
    _assert_same_tables(rebuilt, _full_build(tmp_path, "full_corrected", corrected))
    june = daily["bank_month_returns"]["month_end"] == pd.Timestamp("2020-06-30")
    assert not rebuilt["bank_month_returns"][june].equals(daily["bank_month_returns"][june])


def _mark(db):
    with duckdb.connect(str(db)) as conn:
        for name in ("bank_month_returns", "bank_quarter_panel", "rebalance_universe"):
            conn.execute(f"update warehouse.{name} set ticker = 'MARK'")


def _marked(frame: pd.DataFrame, period: str) -> pd.Series:
    return frame.groupby(period)["ticker"].agg(lambda tickers: (tickers == "MARK").all())


def test_a_daily_run_rebuilds_only_the_periods_its_session_touches(tmp_path, prices):
    db = tmp_path / "acct445.duckdb"
    write_inputs(db, make_cnoi(), prices[prices["date"] <= "2020-08-03"])
    _ok(*build(db))
    # Rows a run leaves alone keep the mark; rows it rebuilds get their tickers back.
    _mark(db)
    write_inputs(db, make_cnoi(), prices[prices["date"] <= "2020-08-04"])
    _ok(*build(db, dbt_vars={**VARS, "returns_from": "2020-08-04"}))
    tables = _tables(db)
    months = _marked(tables["bank_month_returns"], "month_end")
    assert not months[pd.Timestamp("2020-08-31")] and months.drop(pd.Timestamp("2020-08-31")).all()
    quarters = _marked(tables["bank_quarter_panel"], "quarter")
    # 2020Q2 too: its next_ret is 2020Q3's return, which the new session changed.
    assert not quarters[["2020Q2", "2020Q3"]].any()
    assert quarters.drop(["2020Q2", "2020Q3"]).all()
    assert _marked(tables["rebalance_universe"], "rebalance_date").all()

    # The next quarter-end session adds a rebalance date; the earlier ones stay as they were.
    write_inputs(db, make_cnoi(), prices[prices["date"] <= "2020-09-30"])
    _ok(*build(db, dbt_vars={**VARS, "returns_from": "2020-08-05"}))
    dates = _marked(
        read(db, "warehouse.rebalance_universe", "rebalance_date, cik"), "rebalance_date"
    )
    assert not dates[pd.Timestamp("2020-09-30")] and dates.drop(pd.Timestamp("2020-09-30")).all()


def test_a_new_cnoi_adoption_or_calendar_forces_a_full_refresh(tmp_path):
    from dagster import AssetMaterialization, DagsterInstance, MetadataValue

    db = tmp_path / "acct445.duckdb"
    write_inputs(db, make_cnoi(), contract_prices())
    with duckdb.connect(str(db)) as conn:
        conn.execute("create schema warehouse")
        conn.execute("create table warehouse.stg_bank_returns as select 1 as x")
    instance = DagsterInstance.ephemeral()
    context = _context(instance, {"dagster/partition": "2020-12-31"})

    def materialize(key, **metadata):
        instance.report_runless_asset_event(AssetMaterialization(key, metadata=metadata))

    materialize(["warehouse", "stg_bank_returns"], dbt_vars=MetadataValue.json(VARS))
    assert warehouse.build_args(context, str(db), VARS, False)[0] == ["build"]
    for key in warehouse.FULL_REFRESH_INPUTS:
        materialize(key.path)
        args, run_vars = warehouse.build_args(context, str(db), VARS, False)
        assert args == ["build", "--full-refresh"] and "returns_from" not in run_vars
        materialize(["warehouse", "stg_bank_returns"], dbt_vars=MetadataValue.json(VARS))
        assert warehouse.build_args(context, str(db), VARS, False)[0] == ["build"]
