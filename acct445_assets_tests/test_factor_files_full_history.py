"""Ken French files as published (full history from 1926), trimmed to the study period."""

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize
from dagster_duckdb import DuckDBResource

from acct445_assets.assets import market
from acct445_assets.resources.io_manager import AtomicDuckDBIOManager
from acct445_assets.resources.market import FileFactorSource
from acct445_assets.sources.kenfrench import FactorFileError

FULL = Path(__file__).parent / "fixtures" / "kenfrench_full"
SMALL = Path(__file__).parent / "fixtures" / "kenfrench"


def _factors_dir(root, *paths):
    (root / "factors").mkdir(parents=True)
    for p in paths:
        shutil.copy(p, root / "factors" / p.name)
    return root


def _materialize(root, db):
    return materialize(
        [
            market.ff_factors_daily,
            market.ff_factors_monthly,
            market.ff_factors_daily_calendar,
            market.ff_factors_monthly_plausible,
        ],
        resources={
            "factor_source": FileFactorSource(data_dir=str(root)),
            "io_manager": AtomicDuckDBIOManager(database=str(db)),
            "duckdb": DuckDBResource(database=str(db)),
        },
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _checks(result):
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_full_history_daily_files_trimmed_and_calendar_check_passes(tmp_path):
    root = _factors_dir(tmp_path / "d", *FULL.glob("*.zip"))
    result = _materialize(root, tmp_path / "w.duckdb")
    # The monthly asset is derived from daily files here (no monthly file given).
    assert result.success
    checks = _checks(result)
    assert checks["ff_factors_daily_calendar"].passed
    assert checks["ff_factors_monthly_plausible"].passed
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        first, last, nulls = con.execute(
            "select min(date), max(date), count(*) filter (where mkt_rf is null or mom is null)"
            " from raw.ff_factors_daily"
        ).fetchone()
    assert str(first) == "2018-01-02" and str(last) == "2026-01-30" and nulls == 0
    meta = result.asset_materializations_for_node("raw__ff_factors_daily")[0].metadata
    assert meta["file_range"].value == "1963-07-01 .. 2026-01-30"  # the joined files' own range
    assert meta["kept_range"].value == "2018-01-02 .. 2026-01-30"
    ranges = {r["file"]: r["first"] for r in meta["provenance"].value["file_ranges"]}
    assert ranges["F-F_Momentum_Factor_daily_CSV.zip"] == "1926-11-03"


def test_momentum_file_alone_never_makes_an_all_zero_monthly_table(tmp_path):
    root = _factors_dir(tmp_path / "d", FULL / "F-F_Momentum_Factor_daily_CSV.zip")
    with pytest.raises(FactorFileError, match=r"lack required column\(s\) \['mkt_rf', 'rf'\]"):
        FileFactorSource(data_dir=str(root)).load("monthly")
    result = _materialize(root, tmp_path / "w.duckdb")
    assert not result.success
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        tables = con.execute("select table_name from information_schema.tables").fetchall()
    assert ("ff_factors_monthly",) not in tables


def test_monthly_factors_come_from_monthly_files(tmp_path):
    root = _factors_dir(
        tmp_path / "d",
        SMALL / "F-F_Research_Data_5_Factors_2x3.csv",
        SMALL / "F-F_Momentum_Factor.CSV",
        SMALL / "F-F_Research_Data_5_Factors_2x3_daily.CSV",
    )
    monthly = FileFactorSource(data_dir=str(root)).load("monthly")
    assert monthly.metadata["derived_from_daily"] is False
    assert monthly.frame.loc["2023-01-31", "mkt_rf"] == pytest.approx(6.65)  # as published
    assert np.isnan(monthly.frame.loc["2023-03-31", "mom"])  # -999: missing, not a number


def test_mixed_vintages_fail_a_check_naming_the_files(tmp_path):
    root = _factors_dir(
        tmp_path / "d",
        FULL / "F-F_Research_Data_5_Factors_2x3_daily_CSV.zip",  # 202601
        SMALL / "F-F_Momentum_Factor_daily_CSV.zip",  # 202409
    )
    result = _materialize(root, tmp_path / "w.duckdb")
    vintage = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.check_name == "one_vintage"
        and e.event_specific_data.asset_key.path[-1] == "ff_factors_daily"
    ][0]
    assert not vintage.passed
    problem = vintage.metadata["problem"].value
    assert "F-F_Momentum_Factor_daily_CSV.zip (202409)" in problem and "(202601)" in problem


def test_factor_gaps_name_the_file_and_the_uncovered_span():
    ranges = [
        {"file": "five.csv", "first": "1963-07-01", "last": "2023-12-29"},
        {"file": "mom.csv", "first": "1926-11-03", "last": "2024-06-28"},
    ]
    have = pd.bdate_range("2023-01-03", "2023-12-29")
    gaps = market.factor_gaps(("2023-06-01", "2024-02-29"), ranges, have, "daily")
    assert any(g.startswith("five.csv ends 2023-12-29: prices to 2024-02-29") for g in gaps)
    assert not any(g.startswith("mom.csv") for g in gaps)
