"""Group `market`: factors, benchmarks, the bank universe and daily bank prices (schema `raw`)."""

import warnings

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    BetaWarning,
    MetadataValue,
    Output,
    TimeWindowPartitionsDefinition,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from ..params import section
from ..research.calendar import trading_days, weekday_holidays
from ..research.sample import FACTOR_COLUMNS
from ..resources.market import PRICE_COLUMNS, FactorSource, PriceSource

GROUP = "market"
DUCKDB_POOL = "duckdb_writer"
PRICES_START = str(section("market").get("prices_start", "2018-01-01"))

# NYSE sessions: weekdays minus exchange holidays. end_offset=1 makes today's partition
# exist at the 18:00 schedule tick, before the day is over.
trading_day_partitions = TimeWindowPartitionsDefinition(
    start=str(
        trading_days(PRICES_START, pd.Timestamp(PRICES_START) + pd.Timedelta(days=10))[0].date()
    ),
    fmt="%Y-%m-%d",
    cron_schedule="0 0 * * 1-5",
    timezone="America/New_York",
    end_offset=1,
    exclusions=[d.to_pydatetime() for d in weekday_holidays(PRICES_START, "2035-12-31")],
)


def as_date(values) -> pd.Series:
    """Naive dates that DuckDB stores as DATE (pandas datetimes would become TIMESTAMP).

    An all-missing column stays datetime64: DuckDB cannot type an object column of nulls.
    """
    dates = pd.Series(pd.to_datetime(values)).dt.normalize()
    if dates.isna().all():
        return dates
    # Convert each distinct day once: a price panel has 12M rows but only 2,500 sessions.
    codes, days = pd.factorize(dates)
    objects = np.array([d.date() for d in days] + [None], dtype=object)
    return pd.Series(objects[codes], index=dates.index)


def date_range(values) -> str:
    dates = pd.to_datetime(pd.Series(values).astype("datetime64[ns]"))
    return f"{dates.min().date()} .. {dates.max().date()}" if len(dates) else "empty"


def _factor_frame(data) -> pd.DataFrame:
    frame = data.frame.reset_index()
    frame["date"] = as_date(frame["date"])
    return frame[["date", *FACTOR_COLUMNS]]


def _factor_metadata(frame: pd.DataFrame, meta: dict) -> dict:
    return {
        "dagster/row_count": len(frame),
        "date_range": date_range(frame["date"]),
        "units": "percent (as published by Ken French)",
        "source": meta.get("source", "?"),
        "vintage": str(meta.get("vintage", "unknown")),
        "provenance": MetadataValue.json(meta),
        "preview": MetadataValue.md(frame.tail(5).to_markdown(index=False, floatfmt=".3f")),
    }


@asset(key=["raw", "ff_factors_daily"], group_name=GROUP, pool=DUCKDB_POOL, kinds={"python"})
def ff_factors_daily(factor_source: FactorSource) -> Output[pd.DataFrame]:
    """Fama-French 5 factors (2x3) plus momentum, daily, in percent."""
    data = factor_source.load("daily")
    frame = _factor_frame(data)
    return Output(frame, metadata=_factor_metadata(frame, data.metadata))


@asset(key=["raw", "ff_factors_monthly"], group_name=GROUP, pool=DUCKDB_POOL, kinds={"python"})
def ff_factors_monthly(factor_source: FactorSource) -> Output[pd.DataFrame]:
    """Fama-French 5 factors (2x3) plus momentum, monthly (dated at month end), in percent."""
    data = factor_source.load("monthly")
    frame = _factor_frame(data)
    return Output(frame, metadata=_factor_metadata(frame, data.metadata))


@asset(key=["raw", "benchmark_prices"], group_name=GROUP, pool=DUCKDB_POOL, kinds={"python"})
def benchmark_prices(price_source: PriceSource) -> Output[pd.DataFrame]:
    """Adjusted closes of SPY (market benchmark) and KRE (regional banks)."""
    frame = price_source.benchmarks(PRICES_START, pd.Timestamp.today().normalize())
    frame = frame.assign(date=pd.to_datetime(frame["date"]).dt.normalize())[
        ["date", "ticker", "adj_close"]
    ]
    return Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "tickers": ", ".join(sorted(frame["ticker"].unique())),
            "date_range": date_range(frame["date"]),
        },
    )


@asset(key=["raw", "bank_universe"], group_name=GROUP, pool=DUCKDB_POOL, kinds={"python"})
def bank_universe(price_source: PriceSource) -> Output[pd.DataFrame]:
    """Banks under study: CIK, ticker, name, SIC, smaller-reporting flag, shares, listing span."""
    frame = price_source.universe()
    frame = frame.assign(
        first_date=as_date(frame["first_date"]).to_numpy(),
        last_date=as_date(frame["last_date"]).to_numpy(),
    )
    return Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "banks_without_cik": int(frame["cik"].isna().sum()),
            "delisted": int(frame["delisted"].fillna(False).astype(bool).sum()),
            "tickers": MetadataValue.text(", ".join(frame["ticker"].astype(str))),
            **{k: MetadataValue.text(str(v)) for k, v in price_source.provenance().items()},
        },
    )


# A single-run backfill loads a price range in one run; that the parameter is beta is
# Dagster's notice to itself, nothing a user of the project can act on.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)


@asset(
    key=["raw", "bank_prices"],
    group_name=GROUP,
    partitions_def=trading_day_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "date"},
    ins={"bank_universe": AssetIn(key=["raw", "bank_universe"])},
    pool=DUCKDB_POOL,
    kinds={"python"},
)
def bank_prices(
    context: AssetExecutionContext, price_source: PriceSource, bank_universe: pd.DataFrame
) -> Output[pd.DataFrame]:
    """Daily adjusted closes of the universe banks, one partition per NYSE session."""
    window = context.partition_time_window
    first = pd.Timestamp(window.start.date())
    last = pd.Timestamp(window.end.date()) - pd.Timedelta(days=1)
    tickers = bank_universe["ticker"].dropna().astype(str).tolist()
    universe = bank_universe.dropna(subset=["ticker"]).drop_duplicates("ticker")
    ciks = dict(zip(universe["ticker"].astype(str), universe["cik"], strict=True))
    batch = price_source.prices(str(first.date()), str(last.date()), tickers, ciks=ciks)
    frame = batch.frame
    frame = frame[frame["date"].isin(trading_days(first, last))]
    ciks = bank_universe.drop_duplicates("ticker").set_index("ticker")["cik"]
    frame = frame.assign(cik=frame["ticker"].map(ciks).astype("string"))
    shares = bank_universe.drop_duplicates("ticker").set_index("ticker")["shares_outstanding"]
    frame["shares_outstanding"] = frame["shares_outstanding"].fillna(frame["ticker"].map(shares))
    frame = frame[PRICE_COLUMNS]
    # By (date, ticker) through integer codes: sort_values on 12M ticker strings takes seconds.
    ticker_order = pd.factorize(frame["ticker"], sort=True)[0]
    rows = np.lexsort((ticker_order, pd.to_datetime(frame["date"]).to_numpy()))
    frame = frame.iloc[rows].reset_index(drop=True)
    frame["date"] = as_date(frame["date"]).to_numpy()
    if batch.missing:
        context.log.warning(f"no price data for {len(batch.missing)} ticker(s): {batch.missing}")
    return Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "partition_range": f"{first.date()} .. {last.date()}",
            "tickers_with_data": int(frame["ticker"].nunique()),
            "tickers_missing": MetadataValue.json(batch.missing),
            "source": str(batch.metadata.get("source", "?")),
        },
    )


# ---------------------------------------------------------------- checks


def _sessions_check(duckdb: DuckDBResource, table: str) -> AssetCheckResult:
    with duckdb.get_connection() as conn:
        dates = conn.execute(f"select date from {table} order by date").df()["date"]
        bad_values = conn.execute(
            f"""select count(*) from {table}
                where abs(mkt_rf) > 25 or abs(smb) > 15 or abs(hml) > 15 or rf < -0.1 or rf > 0.2"""
        ).fetchone()[0]
    dates = pd.DatetimeIndex(pd.to_datetime(dates))
    sessions = trading_days(dates.min(), dates.max()) if len(dates) else pd.DatetimeIndex([])
    off_calendar = dates.difference(sessions)
    missing = sessions.difference(dates)
    return AssetCheckResult(
        passed=len(off_calendar) == 0 and len(missing) == 0 and bad_values == 0,
        metadata={
            "non_session_dates": len(off_calendar),
            "missing_sessions": len(missing),
            "implausible_rows": int(bad_values),
            "examples": MetadataValue.json(
                [str(d.date()) for d in list(off_calendar[:5]) + list(missing[:5])]
            ),
        },
    )


@asset_check(
    asset=["raw", "ff_factors_daily"], description="dates are NYSE sessions, values plausible"
)
def ff_factors_daily_calendar(duckdb: DuckDBResource) -> AssetCheckResult:
    return _sessions_check(duckdb, "raw.ff_factors_daily")


@asset_check(
    asset=["raw", "ff_factors_monthly"], description="one row per month end, values plausible"
)
def ff_factors_monthly_plausible(duckdb: DuckDBResource) -> AssetCheckResult:
    with duckdb.get_connection() as conn:
        stats = (
            conn.execute(
                """select count(*) as n,
                      count(*) filter (where date <> last_day(date)) as not_month_end,
                      count(*) filter (where abs(mkt_rf) > 40 or rf < -0.5 or rf > 2) as implausible
               from raw.ff_factors_monthly"""
            )
            .df()
            .iloc[0]
        )
    return AssetCheckResult(
        passed=bool(stats["not_month_end"] == 0 and stats["implausible"] == 0),
        metadata={k: int(v) for k, v in stats.items()},
    )


@asset_check(
    asset=["raw", "bank_prices"], description="prices positive, (date, ticker) unique, coverage"
)
def bank_prices_valid(duckdb: DuckDBResource) -> AssetCheckResult:
    with duckdb.get_connection() as conn:
        bad = conn.execute(
            "select count(*) filter (where adj_close <= 0 or adj_close is null) from raw.bank_prices"
        ).fetchone()[0]
        dups = conn.execute(
            "select count(*) from (select date, ticker from raw.bank_prices group by 1, 2 having count(*) > 1)"
        ).fetchone()[0]
        coverage = conn.execute(
            """with span as (select min(date) d0, max(date) d1, count(distinct date) n from raw.bank_prices)
               select p.ticker, count(*) as days, min(p.date) as first, max(p.date) as last,
                      round(count(*) / max(s.n), 3) as share_of_sessions
               from raw.bank_prices p, span s group by p.ticker order by share_of_sessions, p.ticker"""
        ).df()
    low = coverage[coverage["share_of_sessions"] < 0.5]
    return AssetCheckResult(
        passed=bad == 0 and dups == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "non_positive_prices": int(bad),
            "duplicate_date_ticker": int(dups),
            "tickers": len(coverage),
            "tickers_below_half_coverage": len(low),
            "coverage": MetadataValue.md(coverage.head(15).to_markdown(index=False)),
        },
    )
