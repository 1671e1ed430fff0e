"""Blocking checks on the raw universe and prices: banks are never dropped silently."""

import duckdb
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from acct445_assets.assets.market import bank_prices_checks, bank_universe_mapped
from acct445_assets.calendar import trading_days


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
    frame = pd.DataFrame(rows, columns=["date", "ticker", "adj_close"])
    return frame.assign(close=frame["adj_close"], split_ratio=np.nan, delisted=False, ret=np.nan)


def _price_checks(resource: DuckDBResource) -> dict:
    return {result.check_name: result for result in bank_prices_checks(duckdb=resource)}


def bank_prices_complete(duckdb: DuckDBResource):
    return _price_checks(duckdb)["bank_prices_complete"]


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


# The three queries the one-pass check replaced, kept as its oracle.
OLD_DUPLICATES = """select count(*) from (select date, ticker from raw.bank_prices
                    group by 1, 2 having count(*) > 1)"""
OLD_COVERAGE = """with span as (select count(distinct date) n from raw.bank_prices)
    select p.ticker, count(*) as days, min(p.date) as first, max(p.date) as last,
           round(count(*) / max(s.n), 3) as share_of_sessions
    from raw.bank_prices p, span s group by p.ticker order by share_of_sessions, p.ticker"""
OLD_OUTLIERS = """with p as (
        select ticker, date, adj_close, close, coalesce(split_ratio, 1) as split_ratio,
               coalesce(delisted, false) as delisted, ret as source_ret,
               lag(adj_close) over w as prev_adj, lag(close) over w as prev_close
        from raw.bank_prices window w as (partition by ticker order by date))
    select ticker, date, coalesce(source_ret, adj_close / prev_adj - 1) as ret from p
    where prev_adj is not null and abs(coalesce(source_ret, adj_close / prev_adj - 1)) > ?
      and not delisted and split_ratio = 1
      and not (close is not null and prev_close is not null
               and abs(close * split_ratio / prev_close - 1) <= ?)
    order by ticker, date"""
OLD_SPANS = """select ticker, min(date) as first, max(date) as last, count(distinct date) as days
    from raw.bank_prices group by ticker order by ticker"""


def _messy_prices(seed: int) -> pd.DataFrame:
    """Gaps, late listings, repeated (date, ticker) rows, spikes, splits, delistings,
    source returns, non-positive and missing prices."""
    rng = np.random.default_rng(seed)
    sessions = trading_days(pd.Timestamp("2023-01-03"), pd.Timestamp("2023-04-28"))
    frames = []
    for i in range(40):
        days = sessions[rng.integers(0, 20) : len(sessions) - rng.integers(0, 20)]
        days = days[rng.random(len(days)) > (0.05 if i % 3 == 0 else 0.0)]
        adj = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        adj[rng.random(len(days)) < 0.03] *= rng.choice([0.3, 2.5])
        frame = pd.DataFrame(
            {
                "date": days.date,
                "ticker": f"T{i:02d}",
                "adj_close": adj,
                "close": np.where(rng.random(len(days)) < 0.1, np.nan, adj * 1.01),
                "split_ratio": np.where(rng.random(len(days)) < 0.02, 2.0, np.nan),
                "delisted": rng.random(len(days)) < 0.01,
                "ret": np.where(rng.random(len(days)) < 0.05, rng.normal(0, 0.8), np.nan),
            }
        )
        frame.loc[rng.random(len(days)) < 0.01, "adj_close"] = rng.choice([0.0, np.nan, -1.0])
        frames.append(frame)
    prices = pd.concat(frames, ignore_index=True)
    repeated = prices.sample(12, random_state=seed)
    return pd.concat([prices, repeated, repeated.head(3)], ignore_index=True).sample(
        frac=1.0, random_state=seed
    )


def test_the_one_pass_price_checks_agree_with_the_queries_they_replaced(tmp_path):
    for seed in range(4):
        prices = _messy_prices(seed)
        resource = _warehouse(tmp_path / str(seed), UNIVERSE, prices)
        results = _price_checks(resource)
        with duckdb.connect(resource.database, read_only=True) as con:
            duplicates = con.execute(OLD_DUPLICATES).fetchone()[0]
            coverage = con.execute(OLD_COVERAGE).df()
            outliers = con.execute(OLD_OUTLIERS, [0.5, 0.5]).df()
            spans = con.execute(OLD_SPANS).df()
        valid = results["bank_prices_valid"].metadata
        assert duplicates > 0 and valid["duplicate_date_ticker"].value == duplicates
        bad = (prices["adj_close"] <= 0) | prices["adj_close"].isna() | (prices["close"] <= 0)
        assert valid["non_positive_prices"].value == int(bad.sum()) > 0
        assert valid["coverage"].value == coverage.head(15).to_markdown(index=False)
        listed = [
            f"{t} {pd.Timestamp(d).date()}: {r:+.1%}"
            for t, d, r in zip(outliers["ticker"], outliers["date"], outliers["ret"], strict=True)
        ]
        found = results["bank_prices_outliers"].metadata
        assert len(listed) > 3 and found["outliers"].value == len(listed)
        assert found["outlier_list"].value == listed[:100]
        sessions = trading_days(spans["first"].min(), spans["last"].max())
        missing = (
            sessions.searchsorted(pd.to_datetime(spans["last"]), "right")
            - sessions.searchsorted(pd.to_datetime(spans["first"]), "left")
            - spans["days"].to_numpy()
        )
        gaps = {t: int(n) for t, n in zip(spans["ticker"], missing, strict=True) if n > 0}
        assert gaps and results["bank_prices_complete"].metadata["banks_with_gaps"].value == gaps
