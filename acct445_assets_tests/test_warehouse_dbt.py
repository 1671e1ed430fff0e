"""The dbt warehouse models on a hand-made DuckDB file, and through Dagster after the market group.

The inputs are written the way the Python assets write them (schemas `raw` and
`disclosure`); `dbt build` runs through the same `run_dbt` the Dagster asset uses.
"""

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from dagster import AssetIn, DagsterInstance, asset, materialize
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from acct445_assets.assets import market, warehouse
from acct445_assets.calendar import add_trading_days, trading_days
from acct445_assets.research.portfolios import build_rebalance_universe
from acct445_assets.resources.io_manager import AtomicDuckDBIOManager
from acct445_assets.resources.market import SampleFactorSource, SamplePriceSource
from acct445_assets.settings import SettingsError, load_settings

from .research_inputs import quarter_panel, returns_from_prices

VARS = {"lag_days": 2, "max_signal_age": 200, "delisting_return": -0.30, "rebalance": "quarterly"}
A, B, C, D = (f"{i:010d}" for i in (1, 2, 3, 4))
SHARES = {A: 1e6, B: 2e6, C: 3e6, D: 5e5}
# Hand example (bank D): four closes at the end of 2020Q1, delisted on the first day of Q2.
D_CLOSES = {"2020-03-26": 10.0, "2020-03-27": 11.0, "2020-03-30": 9.9, "2020-03-31": 10.89}
D_LAST = ("2020-04-01", 10.0)
# Filings of bank A around weekends and NYSE holidays, with their known dates by hand (lag 2).
CALENDAR_CASES = {
    "2020-01-17": "2020-01-22",  # Friday; Monday 2020-01-20 is MLK day
    "2020-02-15": "2020-02-19",  # Saturday counts from Friday; Monday 02-17 is Presidents' Day
    "2020-07-02": "2020-07-07",  # Thursday; Friday 07-03 is the Independence Day holiday
    "2020-12-23": "2020-12-28",  # Wednesday; Christmas Friday, then a weekend
}


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=str(warehouse.DBT_PROJECT_DIR), profiles_dir=str(warehouse.DBT_PROJECT_DIR)
    )


# ---------------------------------------------------------------- hand-made inputs


def make_prices() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    days = trading_days("2019-07-01", "2020-12-31")
    frames = []
    for cik, ticker in ((A, "AAA"), (B, "BBB"), (C, "CCC")):
        closes = 20 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, len(days))))
        frames.append(
            pd.DataFrame({"date": days, "ticker": ticker, "cik": cik, "adj_close": closes})
        )
    d_rows = {**D_CLOSES, D_LAST[0]: D_LAST[1]}
    frames.append(
        pd.DataFrame(
            {
                "date": pd.to_datetime(list(d_rows)),
                "ticker": "DDD",
                "cik": D,
                "adj_close": list(d_rows.values()),
            }
        )
    )
    prices = pd.concat(frames, ignore_index=True)
    prices["volume"] = 1000.0
    prices["shares_outstanding"] = prices["cik"].map(SHARES)
    prices["delisted"] = (prices["cik"] == D) & (prices["date"] == pd.Timestamp(D_LAST[0]))
    # The shared price contract's columns: no dividends or splits, so the close as traded is
    # the adjusted close, and no source returns.
    prices["close"] = prices["adj_close"]
    prices["dividend"] = 0.0
    prices["split_ratio"] = 1.0
    prices["ret"] = np.nan
    prices["delisting_return"] = np.nan
    return prices


def make_universe(prices: pd.DataFrame) -> pd.DataFrame:
    span = prices.groupby(["cik", "ticker"])["date"].agg(["min", "max"]).reset_index()
    return pd.DataFrame(
        {
            "cik": span["cik"],
            "ticker": span["ticker"],
            "name": span["ticker"] + " Bancorp",
            "sic": 6022,
            "smaller_reporting_company": span["cik"] == C,
            "shares_outstanding": span["cik"].map(SHARES),
            "first_date": span["min"],
            "last_date": span["max"],
            "delisted": span["cik"] == D,
        }
    )


def make_factors(days: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    cols = ["mkt_rf", "smb", "hml", "rmw", "cma", "mom"]
    daily = pd.DataFrame(rng.normal(0.03, 0.8, (len(days), len(cols))), columns=cols)
    daily.insert(0, "date", days)
    daily["rf"] = 0.006
    months = pd.date_range(days[0], days[-1], freq="ME")
    monthly = pd.DataFrame(rng.normal(0.5, 4.0, (len(months), len(cols))), columns=cols)
    monthly.insert(0, "date", months)
    monthly["rf"] = 0.12
    return daily, monthly


def make_cnoi(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    quarter_ends = pd.period_range("2019Q2", "2020Q3", freq="Q").to_timestamp(how="end").normalize()
    for offset, (cik, ticker) in enumerate(((A, "AAA"), (B, "BBB"), (C, "CCC"))):
        for qe in quarter_ends:
            rows.append((cik, ticker, qe + pd.Timedelta(days=38 + 3 * offset), qe))
    for filed in CALENDAR_CASES:
        rows.append((A, "AAA", pd.Timestamp(filed), pd.Timestamp(filed) - pd.Timedelta(days=45)))
    rows.append((D, "DDD", pd.Timestamp("2020-03-27"), pd.Timestamp("2019-12-31")))
    frame = pd.DataFrame(rows, columns=["cik", "ticker", "filing_date", "report_date"])
    frame["accession"] = [
        f"{c}-{d:%Y%m%d}" for c, d in zip(frame["cik"], frame["filing_date"], strict=True)
    ]
    frame["form"] = "10-Q"
    dims = ["d", "g", "r", "j", "t", "s", "x"]
    for dim in dims:
        frame[dim] = rng.uniform(0, 100, len(frame)).round(2)
    weights = np.array([0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1])
    frame["cnoi"] = frame[dims].to_numpy() @ weights
    frame["rubric_version"] = "cnoi-1"
    frame["status"] = "ok"
    failed = frame.iloc[[0]].assign(
        accession="failed-1", filing_date=pd.Timestamp("2019-12-02"), status="failed"
    )
    failed[["cnoi", *dims]] = np.nan
    return pd.concat([frame, failed], ignore_index=True)


def make_adoption() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cik": [A, B, B, D],
            "adoption_date": pd.to_datetime(
                ["2020-01-01", "2023-01-01", "2020-07-01", "2020-01-01"]
            ),
            "adoption_quarter": ["2020Q1", "2023Q1", "2020Q3", "2020Q1"],
            "source": ["rule", "rule", "override", "filing"],
        }
    )


def write_inputs(db: Path, cnoi: pd.DataFrame, prices: pd.DataFrame | None = None) -> None:
    prices = make_prices() if prices is None else prices
    daily, monthly = make_factors(trading_days("2019-07-01", "2020-12-31"))
    calendar = warehouse.trading_calendar().value
    tables = {
        "raw.trading_calendar": calendar,
        "raw.bank_prices": prices,
        "raw.bank_universe": make_universe(prices),
        "raw.ff_factors_daily": daily,
        "raw.ff_factors_monthly": monthly,
        "disclosure.cnoi_scores": cnoi,
        "disclosure.cecl_adoption": make_adoption(),
    }
    with duckdb.connect(str(db)) as conn:
        for name, frame in tables.items():
            conn.execute(f"create schema if not exists {name.split('.')[0]}")
            conn.register("frame", frame)
            conn.execute(f"create or replace table {name} as select * from frame")
            conn.unregister("frame")


def build(db: Path, dbt_vars=VARS, args=("build",)):
    invocation = warehouse.run_dbt(
        dbt_resource(), str(db), list(args), dbt_vars, raise_on_error=False
    ).wait()
    results = invocation.get_artifact("run_results.json")["results"]
    shutil.rmtree(invocation.target_path, ignore_errors=True)
    return invocation, results


def read(db: Path, table: str, order: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(f"select * from {table} order by {order}").df()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    db = tmp_path_factory.mktemp("dbt") / "acct445.duckdb"
    cnoi = make_cnoi()
    write_inputs(db, cnoi)
    invocation, results = build(db)
    return {"db": db, "cnoi": cnoi, "invocation": invocation, "results": results}


# ---------------------------------------------------------------- tests on the hand-made warehouse


def test_dbt_build_succeeds_and_every_dbt_test_passes(built):
    failures = [
        (r["unique_id"], r["status"], r.get("message"))
        for r in built["results"]
        if r["status"] not in ("success", "pass")
    ]
    assert failures == []
    assert built["invocation"].is_successful()
    tests = [r for r in built["results"] if r["unique_id"].startswith("test.")]
    assert len(tests) > 60
    assert any("known_by_bank_quarter_panel" in r["unique_id"] for r in tests)
    assert any("bank_quarter_panel_next_ret_is_next_quarter" in r["unique_id"] for r in tests)
    assert any("rebalance_universe_uses_latest_known_cnoi" in r["unique_id"] for r in tests)


def test_models_land_in_schema_warehouse_under_their_asset_keys(built):
    with duckdb.connect(str(built["db"]), read_only=True) as conn:
        tables = {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'warehouse'"
            ).fetchall()
        }
    keys = {key.path[1] for key in warehouse.warehouse_dbt_models.keys}
    assert {key.path[0] for key in warehouse.warehouse_dbt_models.keys} == {"warehouse"}
    assert keys == tables


def test_known_date_is_filing_date_plus_two_sessions_across_weekends_and_holidays(built):
    stg = read(built["db"], "warehouse.stg_cnoi", "accession").set_index("accession")
    filed_a = stg[stg["cik"] == A].set_index("filing_date")["known_date"]
    for filed, known in CALENDAR_CASES.items():
        assert pd.Timestamp(filed_a[pd.Timestamp(filed)]) == pd.Timestamp(known)
    expected = add_trading_days(stg["filing_date"], 2)
    assert (pd.DatetimeIndex(stg["known_date"]) == expected).all()
    assert "failed-1" not in stg.index and len(stg) == (built["cnoi"]["status"] == "ok").sum()


def test_delisting_return_is_compounded_on_the_delisting_day(built):
    rets = read(built["db"], "warehouse.stg_bank_returns", "cik, date")
    d = rets[rets["cik"] == D].set_index("date")["ret"]
    assert np.isnan(d[pd.Timestamp("2020-03-26")])
    assert d[pd.Timestamp("2020-03-27")] == pytest.approx(0.1)
    assert d[pd.Timestamp("2020-03-30")] == pytest.approx(-0.1)
    assert d[pd.Timestamp("2020-04-01")] == pytest.approx((10.0 / 10.89) * (1 - 0.30) - 1)
    others = rets[rets["cik"] != D]
    assert not others["delisted"].any()
    expected = others.groupby("cik")["adj_close"].pct_change()
    np.testing.assert_allclose(others["ret"], expected, equal_nan=True)


def test_quarter_and_month_aggregation_match_the_hand_computed_example(built):
    panel = read(built["db"], "warehouse.bank_quarter_panel", "cik, quarter")
    q1, q2 = panel[panel["cik"] == D].to_dict("records")
    daily_q1 = np.array([0.1, -0.1, 0.1])
    delisting_day = (10.0 / 10.89) * 0.7 - 1
    assert q1["quarter"] == "2020Q1" and q2["quarter"] == "2020Q2"
    assert q1["ret"] == pytest.approx(1.1 * 0.9 * 1.1 - 1)
    assert q1["volatility"] == pytest.approx(np.sqrt(((daily_q1 - 0.1 / 3) ** 2).sum() / 2))
    assert q1["n_days"] == 3 and q2["n_days"] == 1
    assert pd.Timestamp(q1["quarter_end"]) == pd.Timestamp("2020-03-31")
    assert q1["market_value"] == pytest.approx(10.89 * 5e5)
    assert q1["log_mv"] == pytest.approx(np.log(10.89 * 5e5))
    assert q1["next_ret"] == pytest.approx(delisting_day)
    assert q2["ret"] == pytest.approx(delisting_day) and np.isnan(q2["volatility"])
    assert np.isnan(q2["next_ret"])
    # METHODS 7: row q carries q's own return and volatility as controls, never q-1's.
    assert not {"prior_ret", "prior_vol"} & set(panel.columns)
    # D's only filing (2020-03-27, a Friday) is known Tuesday 03-31: in time for Q1.
    assert pd.Timestamp(q1["cnoi_known_date"]) == pd.Timestamp("2020-03-31")
    assert q1["adoption_quarter"] == "2020Q1" and q1["adopted"] and q2["adopted"]

    months = read(built["db"], "warehouse.bank_month_returns", "cik, month_end")
    d_months = months[months["cik"] == D].set_index("month_end")
    assert d_months.loc[pd.Timestamp("2020-03-31"), "ret"] == pytest.approx(1.1 * 0.9 * 1.1 - 1)
    assert d_months.loc[pd.Timestamp("2020-04-30"), "ret"] == pytest.approx(delisting_day)


def test_adoption_override_wins_and_banks_without_adoption_are_not_adopted(built):
    panel = read(built["db"], "warehouse.bank_quarter_panel", "cik, quarter").set_index(
        ["cik", "quarter"]
    )
    assert panel.loc[(B, "2020Q2"), "adoption_quarter"] == "2020Q3"
    assert not panel.loc[(B, "2020Q2"), "adopted"] and panel.loc[(B, "2020Q3"), "adopted"]
    assert not panel.loc[(A, "2019Q4"), "adopted"] and panel.loc[(A, "2020Q1"), "adopted"]
    assert panel.loc[C, "adoption_quarter"].isna().all() and not panel.loc[C, "adopted"].any()


def test_panel_and_universe_agree_with_the_pandas_reference(built):
    """Same inputs through the research code's pandas implementations (as-of joins, universe)."""
    prices = make_prices()
    returns = returns_from_prices(prices)
    cnoi = built["cnoi"][built["cnoi"]["status"] == "ok"].copy()
    cnoi["known_date"] = add_trading_days(cnoi["filing_date"], 2)
    adoption = pd.Series({A: "2020Q1", B: "2020Q3", D: "2020Q1"})
    expected = quarter_panel(returns, cnoi, adoption)
    panel = read(built["db"], "warehouse.bank_quarter_panel", "cik, quarter")
    assert len(panel) == len(expected)
    for col in ["ret", "volatility", "market_value", "next_ret", "cnoi"]:
        np.testing.assert_allclose(
            panel[col], expected[col], rtol=1e-9, equal_nan=True, err_msg=col
        )
    assert list(panel["quarter"]) == list(expected["quarter"])
    assert list(panel["cnoi_accession"].fillna("")) == list(expected["cnoi_accession"].fillna(""))
    assert list(panel["adopted"]) == list(expected["adopted"])

    universe = read(built["db"], "warehouse.rebalance_universe", "rebalance_date, cik")
    reference = build_rebalance_universe(cnoi, returns, "quarterly", max_signal_age=200)
    assert len(universe) == len(reference) > 0
    assert list(universe["cik"]) == list(reference["cik"])
    assert (
        pd.DatetimeIndex(universe["rebalance_date"])
        == pd.DatetimeIndex(reference["rebalance_date"])
    ).all()
    np.testing.assert_allclose(universe["cnoi"], reference["cnoi"])
    np.testing.assert_allclose(universe["market_value"], reference["market_value"])


def test_rebalance_dates_are_last_sessions_and_stale_scores_drop_out(built):
    universe = read(built["db"], "warehouse.rebalance_universe", "rebalance_date, cik")
    dates = sorted(set(pd.DatetimeIndex(universe["rebalance_date"])))
    assert dates[0] == pd.Timestamp("2019-09-30") and dates[-1] == pd.Timestamp("2020-12-31")
    for day in dates:
        assert trading_days(day, day + pd.offsets.QuarterEnd(0))[-1] == day
    age = pd.DatetimeIndex(universe["rebalance_date"]) - pd.DatetimeIndex(
        universe["cnoi_known_date"]
    )
    assert (age <= pd.Timedelta(days=200)).all() and (age >= pd.Timedelta(0)).all()
    # D stops trading on 2020-04-01: priced on no later rebalance date.
    assert universe.loc[universe["cik"] == D, "rebalance_date"].max() == pd.Timestamp("2020-03-31")


def test_future_filings_change_no_earlier_panel_or_universe_row(built, tmp_path):
    # Filed after Friday 2020-03-27 means known after Tuesday 2020-03-31 (lag 2 sessions).
    filed_after, row_cutoff = pd.Timestamp("2020-03-27"), pd.Timestamp("2020-03-31")
    altered = built["cnoi"].copy()
    later = altered["filing_date"] > filed_after
    altered.loc[later, "cnoi"] = 100 - altered.loc[later, "cnoi"]
    altered.loc[later, "filing_date"] = pd.Timestamp("2020-03-30")
    # An extra score filed the Monday before the quarter end: known only after it.
    extra = (
        altered[altered["cik"] == B]
        .iloc[[-1]]
        .assign(accession="extra-1", filing_date=pd.Timestamp("2020-03-30"), cnoi=0.0)
    )
    altered = pd.concat([altered, extra], ignore_index=True)
    db = tmp_path / "acct445.duckdb"
    write_inputs(db, altered)
    invocation, _ = build(db)
    assert invocation.is_successful()

    for table, date_col, key in (
        ("warehouse.bank_quarter_panel", "quarter_end", "cik, quarter"),
        ("warehouse.rebalance_universe", "rebalance_date", "rebalance_date, cik"),
    ):
        before = read(built["db"], table, key)
        after = read(db, table, key)
        early_before = before[pd.DatetimeIndex(before[date_col]) <= row_cutoff].reset_index(
            drop=True
        )
        early_after = after[pd.DatetimeIndex(after[date_col]) <= row_cutoff].reset_index(drop=True)
        assert (pd.DatetimeIndex(early_before[date_col]) == row_cutoff).sum() >= 4
        pd.testing.assert_frame_equal(early_before, early_after, check_dtype=False)
        # The change is real: later rows do move.
        assert not before.equals(after)


def test_every_dbt_var_reaches_the_models(built, tmp_path):
    db = tmp_path / "acct445.duckdb"
    write_inputs(db, built["cnoi"])
    other = {"lag_days": 3, "max_signal_age": 60, "delisting_return": -0.5, "rebalance": "monthly"}
    invocation, _ = build(db, dbt_vars=other)
    assert invocation.is_successful()

    stg = read(db, "warehouse.stg_cnoi", "accession")
    assert (pd.DatetimeIndex(stg["known_date"]) == add_trading_days(stg["filing_date"], 3)).all()
    rets = read(db, "warehouse.stg_bank_returns", "cik, date")
    delisting_day = rets[rets["delisted"]]
    assert delisting_day["ret"].tolist() == pytest.approx([(10.0 / 10.89) * 0.5 - 1])

    cnoi = built["cnoi"][built["cnoi"]["status"] == "ok"].copy()
    cnoi["known_date"] = add_trading_days(cnoi["filing_date"], 3)
    reference = build_rebalance_universe(
        cnoi, returns_from_prices(make_prices(), -0.5), "monthly", max_signal_age=60
    )
    lenient = build_rebalance_universe(cnoi, returns_from_prices(make_prices()), "monthly", 200)
    assert len(lenient) > len(reference)  # the age limit bites on these filings
    universe = read(db, "warehouse.rebalance_universe", "rebalance_date, cik")
    assert universe["rebalance_date"].nunique() > 12
    assert len(universe) == len(reference)
    assert list(universe["cik"]) == list(reference["cik"])
    assert (
        pd.DatetimeIndex(universe["rebalance_date"])
        == pd.DatetimeIndex(reference["rebalance_date"])
    ).all()
    np.testing.assert_allclose(universe["cnoi"], reference["cnoi"])


def test_dbt_tests_catch_a_panel_row_using_a_score_not_yet_known(built, tmp_path):
    db = tmp_path / "acct445.duckdb"
    shutil.copy(built["db"], db)
    with duckdb.connect(str(db)) as conn:
        future = conn.execute(
            f"select accession from warehouse.stg_cnoi where cik = '{A}' order by known_date desc limit 1"
        ).fetchone()[0]
        conn.execute(
            "update warehouse.bank_quarter_panel set cnoi_accession = ? where cik = ? and quarter = '2019Q4'",
            [future, A],
        )
    invocation, results = build(db, args=("test", "--select", "bank_quarter_panel"))
    failed = {r["unique_id"].split(".")[2] for r in results if r["status"] == "fail"}
    assert not invocation.is_successful()
    assert any(name.startswith("known_by_bank_quarter_panel") for name in failed)


def test_dbt_project_var_fallbacks_match_params_yaml():
    project = yaml.safe_load((warehouse.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"] == warehouse.default_dbt_vars()
    assert warehouse.WarehouseConfig().dbt_vars() == warehouse.default_dbt_vars()
    with pytest.raises(ValueError, match="rebalance='weekly'"):
        warehouse.WarehouseConfig(rebalance="weekly").dbt_vars()


def dbt_memory_limit(db: Path) -> str:
    """DuckDB's memory_limit inside dbt's own connection to the warehouse ``db``."""
    invocation = warehouse.run_dbt(
        dbt_resource(),
        str(db),
        ["show", "--inline", "select current_setting('memory_limit') as m", "--output", "json"],
        VARS,
    )
    events = [event.raw_event for event in invocation.stream_raw_events()]
    previews = [e["data"]["preview"] for e in events if e.get("info", {}).get("name") == "ShowNode"]
    invocation.wait()
    shutil.rmtree(invocation.target_path, ignore_errors=True)
    assert len(previews) == 1
    return json.loads(previews[0])[0]["m"]


def test_dbt_duckdb_runs_under_a_memory_limit_that_the_environment_can_change(
    tmp_path, monkeypatch
):
    # DuckDB's default is 80% of RAM, which dbt's build filled (3.4 GB at 5,000 banks).
    monkeypatch.delenv("ACCT445_DBT_MEMORY_LIMIT", raising=False)
    assert dbt_memory_limit(tmp_path / "acct445.duckdb") == "953.6 MiB"  # 1 GB
    monkeypatch.setenv("ACCT445_DBT_MEMORY_LIMIT", "500MB")
    assert dbt_memory_limit(tmp_path / "acct445.duckdb") == "476.8 MiB"


# ---------------------------------------------------------------- through Dagster


def test_a_warehouse_file_named_like_the_dbt_schema_is_refused(tmp_path):
    # DuckDB would name its catalog "warehouse" and `warehouse.<model>` would be ambiguous.
    with pytest.raises(SettingsError, match="clashes with the dbt schema"):
        load_settings({"ACCT445_WAREHOUSE": str(tmp_path / "warehouse.duckdb")})


@asset(ins={"panel": AssetIn(key=["warehouse", "bank_quarter_panel"])})
def panel_consumer(panel: pd.DataFrame) -> None:
    """Stands in for the research assets: reads a dbt model through the DuckDB IO manager."""
    assert {"cik", "quarter", "cnoi", "next_ret"} <= set(panel.columns) and len(panel) > 0


def test_dbt_assets_materialize_after_the_market_group(tmp_path, monkeypatch, capfd):
    import dbt.config.runtime

    from acct445_assets.resources import WarehouseDbt

    db = load_settings({"ACCT445_HOME": str(tmp_path)}).warehouse
    # The sample plants bank failures in 2023, so its period must cover 2023.
    cfg = dict(n_banks=8, start="2022-01-01", end="2023-12-31")
    resources = {
        "factor_source": SampleFactorSource(**cfg),
        "price_source": SamplePriceSource(**cfg),
        "io_manager": AtomicDuckDBIOManager(database=str(db)),
        "duckdb": DuckDBResource(database=str(db)),
        "dbt": WarehouseDbt(
            project_dir=str(warehouse.DBT_PROJECT_DIR), profiles_dir=str(warehouse.DBT_PROJECT_DIR)
        ),
    }
    instance = DagsterInstance.ephemeral()
    ingest = materialize(
        [market.bank_universe, market.ff_factors_daily, market.ff_factors_monthly],
        resources=resources,
        instance=instance,
    )
    prices = materialize(
        [market.bank_prices, market.bank_universe],
        selection=[market.bank_prices],
        resources=resources,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2022-01-03",
            "dagster/asset_partition_range_end": "2023-12-29",
        },
    )
    assert ingest.success and prices.success
    # Disclosure tables as the disclosure group writes them.
    with duckdb.connect(str(db)) as conn:
        universe = conn.execute("select cik, ticker from raw.bank_universe").df()
    filings = []
    for i, bank in enumerate(universe.itertuples()):
        for filed in pd.date_range("2022-02-10", "2023-11-10", freq="QS-FEB") + pd.Timedelta(
            days=i
        ):
            filings.append(
                (bank.cik, bank.ticker, f"{bank.cik}-{filed:%Y%m%d}", filed, 10.0 + 5 * i)
            )
    cnoi = pd.DataFrame(filings, columns=["cik", "ticker", "accession", "filing_date", "cnoi"])
    cnoi = cnoi.assign(
        form="10-Q",
        report_date=cnoi["filing_date"] - pd.Timedelta(days=40),
        status="ok",
        rubric_version="cnoi-1",
        **{dim: 50.0 for dim in "dgrjtsx"},
    )
    adoption = pd.DataFrame(
        {
            "cik": universe["cik"],
            "adoption_date": pd.Timestamp("2023-01-01"),
            "adoption_quarter": "2023Q1",
            "source": "rule",
        }
    )
    with duckdb.connect(str(db)) as conn:
        conn.execute("create schema if not exists disclosure")
        for name, frame in (("cnoi_scores", cnoi), ("cecl_adoption", adoption)):
            conn.register("frame", frame)
            conn.execute(f"create table disclosure.{name} as select * from frame")
            conn.unregister("frame")

    # The project's dbt resource loads no dbt project, profile or adapter in this process.
    loaded = []
    real_load_profile = dbt.config.runtime.load_profile
    monkeypatch.setattr(
        dbt.config.runtime,
        "load_profile",
        lambda *a, **kw: loaded.append(a) or real_load_profile(*a, **kw),
    )
    result = materialize(
        [warehouse.trading_calendar, warehouse.warehouse_dbt_models, panel_consumer],
        resources=resources,
        instance=instance,
    )
    assert result.success
    assert loaded == []
    materialized = {
        event.event_specific_data.materialization.asset_key.to_user_string()
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
    }
    model_keys = {key.to_user_string() for key in warehouse.warehouse_dbt_models.keys}
    assert model_keys <= materialized and "raw/trading_calendar" in materialized
    checks = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert len(checks) == len(warehouse.warehouse_dbt_models.check_keys)
    assert all(check.passed for check in checks), [c.check_name for c in checks if not c.passed]
    panel_meta = result.asset_materializations_for_node("warehouse_dbt_models")
    counts = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value for m in panel_meta}
    assert counts["bank_quarter_panel"] > 8 * 4 and counts["rebalance_universe"] > 0
    assert (
        json.loads(json.dumps(panel_meta[0].metadata["dbt_vars"].value))
        == warehouse.default_dbt_vars()
    )
    # The next build starts from this one's parse: dbt does not re-parse the project.
    capfd.readouterr()
    again = materialize([warehouse.warehouse_dbt_models], resources=resources, instance=instance)
    dbt_said = capfd.readouterr().out
    assert again.success and "Found 8 models" in dbt_said
    assert "Unable to do partial parsing" not in dbt_said


def test_dbt_version_comes_from_the_installed_package_without_a_dbt_start(tmp_path, monkeypatch):
    import subprocess
    import sys

    import dagster_dbt.core.resource as stock

    from acct445_assets.resources import DBT_PROJECT_DIR, WarehouseDbt

    printed = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "dbt"), "--version"], capture_output=True, text=True
    ).stdout
    started = []
    real_check_output = stock.check_output
    monkeypatch.setattr(
        stock,
        "check_output",
        lambda args, **kw: started.append(args) or real_check_output(args, **kw),
    )
    ours = WarehouseDbt(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR))
    assert str(ours._cli_version) in printed
    assert started == []  # no `dbt --version` process for this environment's dbt
    # Any other executable is asked, as the stock resource does.
    other = tmp_path / "dbt"
    other.write_text("#!/bin/sh\necho 'Core:'\necho '  - installed: 9.8.7'\n")
    other.chmod(0o755)
    theirs = WarehouseDbt(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(other),
    )
    assert str(theirs._cli_version) == "9.8.7"
    assert started == [[str(other), "--version"]]


def _materialized(result) -> set[str]:
    return {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }


def test_a_failing_error_severity_dbt_test_stops_research_assets_in_that_run(
    built, tmp_path, monkeypatch
):
    from acct445_assets.assets import research

    monkeypatch.setenv("ACCT445_RESULTS_DIR", str(tmp_path / "results"))
    db = tmp_path / "acct445.duckdb"
    shutil.copy(built["db"], db)
    resources = {
        "io_manager": AtomicDuckDBIOManager(database=str(db)),
        "duckdb": DuckDBResource(database=str(db)),
        "dbt": dbt_resource(),
    }
    assets = [warehouse.warehouse_dbt_models, research.panel_regression_asset]
    clean = materialize(assets, resources=resources, raise_on_error=False)
    assert clean.success and "research/panel_regression" in _materialized(clean)
    before = read(db, "warehouse.bank_quarter_panel", "cik, quarter")
    # A filing listed twice: stg_cnoi's `unique` test on accession (severity error) fails.
    with duckdb.connect(str(db)) as conn:
        conn.execute(
            "insert into disclosure.cnoi_scores select * from disclosure.cnoi_scores"
            " where accession = (select min(accession) from disclosure.cnoi_scores)"
        )
        conn.execute("drop table research.panel_regression")
    result = materialize(assets, resources=resources, raise_on_error=False)
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert not checks["unique_stg_cnoi_accession"].passed
    assert not result.success
    assert "research/panel_regression" not in _materialized(result)
    assert "warehouse/bank_quarter_panel" not in _materialized(result)
    with duckdb.connect(str(db), read_only=True) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "select table_name from duckdb_tables() where schema_name = 'research'"
            ).fetchall()
        }
    assert "panel_regression" not in tables
    pd.testing.assert_frame_equal(read(db, "warehouse.bank_quarter_panel", "cik, quarter"), before)


def test_a_manifest_older_than_a_model_is_stale_and_reparsed_at_import(tmp_path):
    import os

    project = tmp_path / "dbt"
    (project / "models" / "staging").mkdir(parents=True)
    (project / "target").mkdir()
    (project / "dbt_project.yml").write_text("name: x\n")
    model = project / "models" / "staging" / "m.sql"
    model.write_text("select 1")
    manifest = project / "target" / "manifest.json"
    assert warehouse.manifest_is_stale(project, manifest)  # missing
    manifest.write_text("{}")
    os.utime(model, (1_000_000, 1_000_000))
    os.utime(project / "dbt_project.yml", (1_000_000, 1_000_000))
    os.utime(manifest, (2_000_000, 2_000_000))
    assert not warehouse.manifest_is_stale(project, manifest)
    os.utime(model, (3_000_000, 3_000_000))  # a model edited after the parse
    assert warehouse.manifest_is_stale(project, manifest)
    # The project's own manifest is current after import: the assets are the models'.
    assert not warehouse.manifest_is_stale(
        warehouse.DBT_PROJECT_DIR, warehouse.warehouse_project.manifest_path
    )
