"""Group `market`: factors, benchmarks, the bank universe and daily bank prices (schema `raw`)."""

import warnings

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    BetaWarning,
    MetadataValue,
    Output,
    TimeWindowPartitionsDefinition,
    asset,
    asset_check,
    multi_asset_check,
)
from dagster_duckdb import DuckDBResource

from ..calendar import CALENDAR_FIRST, trading_days, weekday_holidays
from ..params import section
from ..resources.market import FactorSource, PriceSource
from ..sources.base import FACTOR_COLUMNS, PRICE_COLUMNS, finish_prices

GROUP = "market"
DUCKDB_POOL = "duckdb_writer"
_MARKET = section("market")
PRICES_START = str(_MARKET.get("prices_start", "2018-01-01"))
STUDY_END = _MARKET.get("study_end")
MAX_DAILY_RETURN = float(_MARKET.get("max_daily_return", 0.5))

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


def trim_to_study(frame: pd.DataFrame, frequency: str) -> tuple[pd.DataFrame, dict]:
    """Keep the study period of params.yaml (market.prices_start .. market.study_end).

    Ken French files run from 1926; the NYSE calendar and the study start in 2000 or
    later. A monthly row is kept when its month reaches into the period.
    """
    start = pd.Timestamp(PRICES_START)
    if frequency == "monthly":
        start = start + pd.offsets.MonthEnd(0)
    end = pd.Timestamp(STUDY_END) if STUDY_END else None
    dates = pd.DatetimeIndex(frame.index)
    keep = dates >= start
    if end is not None:
        keep &= dates <= (end + pd.offsets.MonthEnd(0) if frequency == "monthly" else end)
    kept = frame.loc[keep]
    info = {
        "file_range": f"{dates.min().date()} .. {dates.max().date()}" if len(dates) else "empty",
        "kept_range": (
            f"{kept.index.min().date()} .. {kept.index.max().date()}" if len(kept) else "empty"
        ),
        "study_period": f"{start.date()} .. {end.date() if end is not None else 'end of file'}",
        "rows_in_files": len(frame),
        "rows_dropped_outside_study": int((~keep).sum()),
    }
    return kept, info


def _factor_metadata(frame: pd.DataFrame, meta: dict, trim: dict) -> dict:
    return {
        "dagster/row_count": len(frame),
        "date_range": date_range(frame["date"]),
        **trim,
        "units": "percent (as published by Ken French)",
        "source": meta.get("source", "?"),
        "vintage": str(meta.get("vintage", "unknown")),
        "provenance": MetadataValue.json(meta),
        "preview": MetadataValue.md(frame.tail(5).to_markdown(index=False, floatfmt=".3f")),
    }


def _vintage_check(asset_key: list[str], meta: dict) -> AssetCheckResult:
    ranges = meta.get("file_ranges") or []
    vintages = {r["file"]: r["vintage"] for r in ranges}
    known = {v for v in vintages.values() if v != "unknown"}
    return AssetCheckResult(
        asset_key=asset_key,
        check_name="one_vintage",
        passed=len(known) <= 1,
        metadata={
            "vintages": MetadataValue.json(vintages),
            "problem": (
                "files of different CRSP vintages mixed: "
                + ", ".join(f"{f} ({v})" for f, v in vintages.items())
                if len(known) > 1
                else "none"
            ),
        },
    )


def _factor_asset(factor_source: FactorSource, frequency: str, key: list[str]):
    data = factor_source.load(frequency)
    kept, trim = trim_to_study(data.frame, frequency)
    if kept.empty:
        raise ValueError(
            f"{key[-1]}: the factor files ({trim['file_range']}) hold no {frequency} row in the"
            f" study period {trim['study_period']} (params.yaml market.prices_start/study_end)"
        )
    data.frame = kept
    frame = _factor_frame(data)
    yield Output(frame, metadata=_factor_metadata(frame, data.metadata, trim))
    yield _vintage_check(key, data.metadata)


_VINTAGE_SPEC = "every factor file is of one CRSP vintage"


def _factor_table(frequency: str, description: str):
    """The raw factor table of one frequency; daily and monthly differ only in the file read."""
    key = ["raw", f"ff_factors_{frequency}"]

    @asset(
        key=key,
        description=description,
        group_name=GROUP,
        pool=DUCKDB_POOL,
        kinds={"python"},
        check_specs=[
            AssetCheckSpec("one_vintage", asset=key, blocking=True, description=_VINTAGE_SPEC)
        ],
    )
    def factor_table(factor_source: FactorSource):
        yield from _factor_asset(factor_source, frequency, key)

    return factor_table


ff_factors_daily = _factor_table(
    "daily", "Fama-French 5 factors (2x3) plus momentum, daily, in percent, over the study period."
)
ff_factors_monthly = _factor_table(
    "monthly",
    "Fama-French 5 factors (2x3) plus momentum, monthly (dated at month end), in percent, "
    "from Ken French's monthly files (compounded from daily only when none is given).",
)


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
    frame = finish_prices(batch.frame)
    sessions = trading_days(first, last)
    dates = pd.to_datetime(frame["date"])
    on_session = dates.isin(sessions).to_numpy()
    off_session = frame.loc[~on_session, ["date", "ticker"]]
    # By (date, ticker) through integer codes: sort_values on 12M ticker strings takes seconds.
    ticker_order = pd.factorize(frame["ticker"], sort=True)[0]
    kept = np.flatnonzero(on_session)
    rows = kept[np.lexsort((ticker_order[kept], dates.to_numpy()[kept]))]
    ciks = bank_universe.drop_duplicates("ticker").set_index("ticker")["cik"]
    # Shares come only from the source's own dated rows (known from that date on):
    # never the universe's latest value carried back over earlier days (METHODS 0).
    # Each column gathered once into its own block: at 5,000 banks every full copy of the
    # 12M-row panel is about 1 GB of peak memory.
    columns = {
        col: frame["ticker"].iloc[rows].map(ciks).astype("string").reset_index(drop=True)
        if col == "cik"
        else frame[col].to_numpy()[rows]
        for col in PRICE_COLUMNS
    }
    columns["date"] = as_date(pd.Series(columns["date"])).to_numpy()
    frame = pd.DataFrame(columns, copy=False)
    if batch.missing:
        context.log.warning(f"no price data for {len(batch.missing)} ticker(s): {batch.missing}")
    off_list = [
        f"{pd.Timestamp(d).date()} {t}"
        for d, t in zip(off_session["date"], off_session["ticker"], strict=True)
    ]
    if off_list:
        context.log.warning(
            f"{len(off_list)} price row(s) on days that are not NYSE sessions were dropped:"
            f" {off_list[:10]}"
        )
    return Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "partition_range": f"{first.date()} .. {last.date()}",
            "tickers_with_data": int(frame["ticker"].nunique()),
            "tickers_missing": MetadataValue.json(batch.missing),
            "tickers_missing_why": MetadataValue.json(batch.metadata.get("unavailable", {})),
            "non_session_rows": len(off_list),
            "non_session_rows_list": MetadataValue.json(off_list[:200]),
            "rows_with_shares": int(frame["shares_outstanding"].notna().sum()),
            "rows_with_close": int(frame["close"].notna().sum()),
            "source": str(batch.metadata.get("source", "?")),
            **{
                k: MetadataValue.json(v) if isinstance(v, list | dict) else v
                for k, v in batch.metadata.items()
                if k != "source"
            },
        },
    )


# ---------------------------------------------------------------- checks


def _sessions_check(duckdb: DuckDBResource, table: str) -> AssetCheckResult:
    with duckdb.get_connection() as conn:
        dates = conn.execute(f"select date from {table} order by date").df()["date"]
        stats = conn.execute(
            f"""select
                  count(*) filter (where abs(mkt_rf) > 25 or abs(smb) > 15 or abs(hml) > 15
                                   or rf < -0.1 or rf > 0.2) as implausible,
                  count(*) filter (where mkt_rf is null or rf is null) as null_mkt_rf_or_rf
                from {table}"""
        ).fetchone()
    bad_values, nulls = int(stats[0]), int(stats[1])
    dates = pd.DatetimeIndex(pd.to_datetime(dates))
    before_calendar = dates[dates < pd.Timestamp(CALENDAR_FIRST)]
    dates = dates[dates >= pd.Timestamp(CALENDAR_FIRST)]
    sessions = trading_days(dates.min(), dates.max()) if len(dates) else pd.DatetimeIndex([])
    off_calendar = dates.difference(sessions)
    missing = sessions.difference(dates)
    return AssetCheckResult(
        passed=len(off_calendar) == 0
        and len(missing) == 0
        and bad_values == 0
        and nulls == 0
        and len(before_calendar) == 0,
        metadata={
            "checked_range": f"{dates.min().date()} .. {dates.max().date()}"
            if len(dates)
            else "empty",
            "non_session_dates": len(off_calendar),
            "missing_sessions": len(missing),
            "implausible_rows": bad_values,
            "null_mkt_rf_or_rf": nulls,
            "dates_before_calendar": len(before_calendar),
            "examples": MetadataValue.json(
                [str(d.date()) for d in list(off_calendar[:5]) + list(missing[:5])]
            ),
        },
    )


@asset_check(
    asset=["raw", "ff_factors_daily"],
    description="dates are NYSE sessions, values plausible, mkt_rf and rf present",
    blocking=True,
)
def ff_factors_daily_calendar(duckdb: DuckDBResource) -> AssetCheckResult:
    return _sessions_check(duckdb, "raw.ff_factors_daily")


@asset_check(
    asset=["raw", "ff_factors_monthly"],
    description="one row per month end, values plausible, no NULL or all-zero factor",
    blocking=True,
)
def ff_factors_monthly_plausible(duckdb: DuckDBResource) -> AssetCheckResult:
    with duckdb.get_connection() as conn:
        stats = (
            conn.execute(
                """select count(*) as n,
                      count(*) filter (where date <> last_day(date)) as not_month_end,
                      count(*) filter (where abs(mkt_rf) > 40 or rf < -0.5 or rf > 2) as implausible,
                      count(*) filter (where mkt_rf is null or rf is null) as null_mkt_rf_or_rf,
                      count(distinct date) as months
               from raw.ff_factors_monthly"""
            )
            .df()
            .iloc[0]
        )
        zero = (
            conn.execute(
                "select "
                + ", ".join(f"count(*) filter (where {c} <> 0) as {c}" for c in FACTOR_COLUMNS)
                + " from raw.ff_factors_monthly"
            )
            .df()
            .iloc[0]
        )
    # A column of zeros is a fabricated series, not a published one.
    all_zero = [c for c in FACTOR_COLUMNS if int(zero[c]) == 0] if int(stats["n"]) else []
    return AssetCheckResult(
        passed=bool(
            stats["not_month_end"] == 0
            and stats["implausible"] == 0
            and stats["null_mkt_rf_or_rf"] == 0
            and stats["months"] == stats["n"]
            and not all_zero
        ),
        metadata={
            **{k: int(v) for k, v in stats.items()},
            "all_zero_columns": MetadataValue.json(all_zero),
        },
    )


PRICES_KEY = ["raw", "bank_prices"]


def price_table_pass(conn, bound: float) -> pd.DataFrame:
    """Per ticker of raw.bank_prices, from one sort by (ticker, date): span, rows, repeated
    (date, ticker) rows, invalid prices, share of the table's sessions, and the daily returns
    beyond +-bound that no split, dividend or delisting explains (a list per ticker).

    The three price checks read this one pass: each sorting 12M rows on its own took
    about three seconds at 5,000 banks, most of the daily run's checks."""
    return conn.execute(
        """with p as (
               select ticker, date, adj_close, close, coalesce(split_ratio, 1) as split_ratio,
                      coalesce(delisted, false) as delisted, ret as source_ret,
                      lag(date) over w as prev_date, lead(date) over w as next_date,
                      lag(adj_close) over w as prev_adj, lag(close) over w as prev_close
               from raw.bank_prices window w as (partition by ticker order by date)),
           flagged as (
               select *, coalesce(source_ret, adj_close / prev_adj - 1) as ret,
                      prev_adj is not null
                      and abs(coalesce(source_ret, adj_close / prev_adj - 1)) > $bound
                      and not delisted
                      and split_ratio = 1
                      and not (close is not null and prev_close is not null
                               and abs(close * split_ratio / prev_close - 1) <= $bound)
                      as outlier
               from p),
           sessions as (select count(distinct date) as n from raw.bank_prices)
           select ticker, min(date) as first, max(date) as last, count(*) as days,
                  count(*) filter (where prev_date = date) as repeated_rows,
                  count(*) filter (where prev_date = date and next_date is distinct from date)
                      as duplicate_keys,
                  count(*) filter (where adj_close <= 0 or adj_close is null or close <= 0)
                      as non_positive,
                  round(count(*) / max(s.n), 3) as share_of_sessions,
                  coalesce(list(struct_pack(date := date, ret := ret) order by date)
                           filter (where outlier), []) as outliers
           from flagged, sessions s group by ticker order by ticker""",
        {"bound": bound},
    ).df()


def _prices_valid(table: pd.DataFrame) -> AssetCheckResult:
    bad, dups = int(table["non_positive"].sum()), int(table["duplicate_keys"].sum())
    coverage = table.sort_values(["share_of_sessions", "ticker"], kind="mergesort")[
        ["ticker", "days", "first", "last", "share_of_sessions"]
    ]
    low = coverage[coverage["share_of_sessions"] < 0.5]
    return AssetCheckResult(
        check_name="bank_prices_valid",
        asset_key=PRICES_KEY,
        passed=bad == 0 and dups == 0 and len(coverage) > 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "non_positive_prices": bad,
            "duplicate_date_ticker": dups,
            "tickers": len(coverage),
            "tickers_below_half_coverage": len(low),
            "coverage": MetadataValue.md(coverage.head(15).to_markdown(index=False)),
        },
    )


def _prices_outliers(table: pd.DataFrame) -> AssetCheckResult:
    listed = [
        f"{ticker} {pd.Timestamp(o['date']).date()}: {o['ret']:+.1%}"
        for ticker, found in zip(table["ticker"], table["outliers"], strict=True)
        for o in found
    ]
    return AssetCheckResult(
        check_name="bank_prices_outliers",
        asset_key=PRICES_KEY,
        passed=not listed,
        metadata={
            "bound": MAX_DAILY_RETURN,
            "outliers": len(listed),
            "outlier_list": MetadataValue.json(listed[:100]),
            "first": listed[0] if listed else "none",
        },
    )


def factor_gaps(
    prices: tuple, ranges: list[dict], have: pd.DatetimeIndex, frequency: str
) -> list[str]:
    """Each factor file (and the table) against the price period: the uncovered spans."""
    p0, p1 = (pd.Timestamp(d) for d in prices)
    if frequency == "monthly":
        p0, p1 = p0 + pd.offsets.MonthEnd(0), p1 + pd.offsets.MonthEnd(0)
        # The month still in progress has no published factor yet.
        p1 = min(p1, pd.Timestamp(have.max()) if len(have) else p1)
    gaps = []
    for r in ranges:
        first, last = pd.Timestamp(r["first"]), pd.Timestamp(r["last"])
        if frequency == "monthly":
            first, last = first + pd.offsets.MonthEnd(0), last + pd.offsets.MonthEnd(0)
        if first > p0:
            gaps.append(f"{r['file']} starts {first.date()}: prices from {p0.date()} uncovered")
        if last < p1:
            gaps.append(
                f"{r['file']} ends {last.date()}: prices to {p1.date()} uncovered"
                f" ({(last + pd.Timedelta(days=1)).date()} .. {p1.date()})"
            )
    if frequency == "daily":
        needed = trading_days(p0, p1)
    else:
        needed = pd.date_range(p0, p1, freq="ME")
    missing = needed.difference(have)
    if len(missing):
        gaps.append(
            f"{len(missing)} {frequency} date(s) of the price period have no factor row,"
            f" first {missing[0].date()}, last {missing[-1].date()}"
        )
    return gaps


@asset_check(
    asset=["raw", "bank_prices"],
    description="daily and monthly factors cover every session / month of the prices",
    blocking=True,
    additional_deps=[["raw", "ff_factors_daily"], ["raw", "ff_factors_monthly"]],
)
def bank_prices_factor_coverage(
    duckdb: DuckDBResource, factor_source: FactorSource
) -> AssetCheckResult:
    with duckdb.get_connection() as conn:
        tables = {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
                " and table_catalog = current_database()"
            ).fetchall()
        }
        absent = [f"raw.{t}" for t in ("ff_factors_daily", "ff_factors_monthly") if t not in tables]
        if absent:
            # Prices materialized alone (a backfill of raw/bank_prices) on a warehouse without
            # factors: coverage cannot be shown, and anything needing factors fails by itself.
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.WARN,
                metadata={"not_materialized": MetadataValue.json(absent)},
            )
        span = conn.execute("select min(date), max(date) from raw.bank_prices").fetchone()
        present = {
            name
            for (name,) in conn.execute(
                """select table_name from information_schema.tables
                   where table_schema = 'raw' and table_name like 'ff_factors_%'"""
            ).fetchall()
        }
        absent = sorted({"ff_factors_daily", "ff_factors_monthly"} - present)
        if absent:
            # Prices materialized on their own (a backfill before the factors): nothing to
            # compare yet. A warning, not a pass, and it does not block.
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.WARN,
                description=f"not checkable yet: raw.{', raw.'.join(absent)} not materialized",
                metadata={"factor_tables_missing": MetadataValue.json(absent)},
            )
        have = {
            f: pd.DatetimeIndex(
                pd.to_datetime(
                    conn.execute(
                        f"select date from raw.ff_factors_{f} where mkt_rf is not null and rf is not null"
                    ).df()["date"]
                )
            )
            for f in ("daily", "monthly")
        }
    gaps = {}
    for frequency in ("daily", "monthly"):
        meta = factor_source.load(frequency).metadata
        found = factor_gaps(span, meta.get("file_ranges", []), have[frequency], frequency)
        if found:
            gaps[frequency] = found
    return AssetCheckResult(
        passed=not gaps,
        metadata={
            "price_period": f"{pd.Timestamp(span[0]).date()} .. {pd.Timestamp(span[1]).date()}",
            "gaps": MetadataValue.json(gaps),
            "first_gap": next((g[0] for g in gaps.values()), "none"),
        },
    )


def _listed(names: list[str], limit: int = 20) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


@asset_check(
    asset=["raw", "bank_universe"],
    blocking=True,
    description="every bank still trading has a CIK (none is dropped silently)",
)
def bank_universe_mapped(duckdb: DuckDBResource) -> AssetCheckResult:
    with duckdb.get_connection() as conn:
        unmapped = conn.execute(
            """select ticker, name from raw.bank_universe
               where cik is null and not coalesce(delisted, false) order by ticker"""
        ).df()
        gone = conn.execute(
            "select ticker from raw.bank_universe where cik is null and coalesce(delisted, false)"
        ).df()
    named = [f"{t} ({n})" for t, n in zip(unmapped["ticker"], unmapped["name"], strict=True)]
    return AssetCheckResult(
        passed=unmapped.empty,
        description=f"no CIK for trading banks: {_listed(named)}" if named else None,
        metadata={
            "trading_banks_without_cik": MetadataValue.json(named),
            "delisted_banks_without_cik": MetadataValue.json(gone["ticker"].tolist()),
        },
    )


def _prices_complete(table: pd.DataFrame, absent: pd.DataFrame) -> AssetCheckResult:
    gaps = {}
    if len(table):
        sessions = trading_days(table["first"].min(), table["last"].max())
        first = sessions.searchsorted(pd.to_datetime(table["first"]), "left")
        last = sessions.searchsorted(pd.to_datetime(table["last"]), "right")
        days = (table["days"] - table["repeated_rows"]).to_numpy()
        missing = (last - first) - days
        gaps = {t: int(n) for t, n in zip(table["ticker"], missing, strict=True) if n > 0}
    trading_absent = absent.loc[~absent["delisted"].astype(bool), "ticker"].tolist()
    named = [f"{t}: {n} session(s) missing" for t, n in gaps.items()] + [
        f"{t}: no prices" for t in trading_absent
    ]
    return AssetCheckResult(
        check_name="bank_prices_complete",
        asset_key=PRICES_KEY,
        passed=not named,
        description=f"banks missing sessions they traded: {_listed(named)}" if named else None,
        metadata={
            "banks_with_gaps": MetadataValue.json(gaps),
            "trading_banks_without_prices": MetadataValue.json(trading_absent),
            "delisted_banks_without_prices": MetadataValue.json(
                absent.loc[absent["delisted"].astype(bool), "ticker"].tolist()
            ),
        },
    )


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "bank_prices_valid",
            asset=PRICES_KEY,
            blocking=True,
            description="prices positive, (date, ticker) unique, coverage",
        ),
        AssetCheckSpec(
            "bank_prices_outliers",
            asset=PRICES_KEY,
            blocking=True,
            description="no daily return beyond market.max_daily_return without a split or delisting",
        ),
        AssetCheckSpec(
            "bank_prices_complete",
            asset=PRICES_KEY,
            blocking=True,
            description="no bank that traded misses a session between its first and last price",
        ),
    ],
)
def bank_prices_checks(duckdb: DuckDBResource):
    with duckdb.get_connection() as conn:
        table = price_table_pass(conn, MAX_DAILY_RETURN)
        absent = conn.execute(
            """select u.ticker, coalesce(u.delisted, false) as delisted from raw.bank_universe u
               where u.ticker not in (select distinct ticker from raw.bank_prices)
               order by u.ticker"""
        ).df()
    yield _prices_valid(table)
    yield _prices_outliers(table)
    yield _prices_complete(table, absent)
