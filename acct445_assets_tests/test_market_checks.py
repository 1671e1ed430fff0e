"""Blocking checks on the raw universe and prices: banks are never dropped silently."""

import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource

from acct445_assets.assets.market import bank_prices_complete, bank_universe_mapped


def _warehouse(tmp_path, universe: pd.DataFrame, prices: pd.DataFrame) -> DuckDBResource:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as con:
        con.execute("create schema raw")
        con.register("u", universe)
        con.register("p", prices)
        con.execute("create table raw.bank_universe as select * from u")
        con.execute("create table raw.bank_prices as select * from p")
    return DuckDBResource(database=path)


UNIVERSE = pd.DataFrame(
    {
        "cik": ["0000000001", None, None, "0000000004"],
        "ticker": ["AAA", "SIVB", "ZZZ", "DDD"],
        "name": ["A Bank", "SVB", "Zed Bancorp", "D Bank"],
        "delisted": [False, True, False, False],
    }
)


def _prices(days_by_ticker: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(pd.Timestamp(d).date(), t, 10.0) for t, days in days_by_ticker.items() for d in days]
    return pd.DataFrame(rows, columns=["date", "ticker", "adj_close"])


def test_a_trading_bank_without_cik_fails_by_name_a_failed_one_does_not(tmp_path):
    full = ["2023-03-08", "2023-03-09", "2023-03-10"]
    resource = _warehouse(tmp_path, UNIVERSE, _prices({"AAA": full, "DDD": full, "ZZZ": full}))
    result = bank_universe_mapped(duckdb=resource)
    assert not result.passed
    assert result.description == "no CIK for trading banks: ZZZ (Zed Bancorp)"
    assert result.metadata["delisted_banks_without_cik"].value == ["SIVB"]
    mapped = UNIVERSE[UNIVERSE["ticker"] != "ZZZ"]
    assert bank_universe_mapped(
        duckdb=_warehouse(tmp_path / "ok", mapped, _prices({"AAA": full}))
    ).passed


def test_a_bank_missing_sessions_it_traded_fails_naming_it(tmp_path):
    full = ["2023-03-08", "2023-03-09", "2023-03-10", "2023-03-13"]
    prices = _prices({"AAA": full, "DDD": [full[0], full[3]], "ZZZ": full})
    result = bank_prices_complete(duckdb=_warehouse(tmp_path, UNIVERSE, prices))
    assert not result.passed
    assert result.description == "banks missing sessions they traded: DDD: 2 session(s) missing"
    # A failed bank Yahoo has no prices for is reported, not failed; a trading one fails.
    assert result.metadata["delisted_banks_without_prices"].value == ["SIVB"]
    prices = _prices({"AAA": full, "ZZZ": full[2:]})
    result = bank_prices_complete(duckdb=_warehouse(tmp_path / "absent", UNIVERSE, prices))
    assert not result.passed and result.description.endswith("DDD: no prices")
    prices = _prices({"AAA": full, "DDD": full[:2], "ZZZ": full[1:]})
    assert bank_prices_complete(duckdb=_warehouse(tmp_path / "ok", UNIVERSE, prices)).passed
