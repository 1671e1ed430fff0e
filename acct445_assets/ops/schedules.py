"""The daily run: that day's `bank_prices` partition and the warehouse, at 18:00 New York.

The quarterly research and publication assets downstream are not in the daily job: the
automation sensor of ``ops.automation`` requests them once a quarter.

The daemon only ever evaluates the latest missed tick of a schedule like this one (its
`max_catchup_runs` applies to partition-set schedules only), so the catch-up of days missed
while the daemon was down is done here: a tick also requests the trading days since the
schedule's last run that have no run yet, at most `CATCH_UP_TRADING_DAYS` of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from dagster import (
    AssetSelection,
    Backoff,
    DefaultScheduleStatus,
    RetryPolicy,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from ..assets.market import trading_day_partitions
from ..calendar import is_trading_day, trading_days

EXECUTION_TIMEZONE = "America/New_York"
DAILY_CRON = "0 18 * * 1-5"
SCHEDULE_NAME = "daily_bank_prices_schedule"
CATCH_UP_TRADING_DAYS = 5
# How far back the schedule looks for its own earlier runs (more than any plausible outage).
HISTORY_RUNS = 50

# Quarterly by design (they read bank-quarters or quarterly sorts); ops.automation runs them.
DAILY_EXCLUDED_GROUPS = ("research", "publication")
DAILY_EXCLUDED_ASSETS = (("disclosure", "opacity_validation"),)

SCHEDULE_NAME_TAG = "dagster/schedule_name"
RUN_KEY_TAG = "dagster/run_key"

daily_bank_prices_job = define_asset_job(
    name="daily_bank_prices",
    selection=AssetSelection.assets(["raw", "bank_prices"]).downstream()
    - AssetSelection.groups(*DAILY_EXCLUDED_GROUPS)
    - AssetSelection.assets(*(list(key) for key in DAILY_EXCLUDED_ASSETS)),
    description="One NYSE session of bank prices and the warehouse built from them.",
    # Transient failures (a price feed timing out) are retried per step; a crashed run worker
    # is retried by the instance's run_retries.
    op_retry_policy=RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL),
)


def session_of_tick(scheduled_time: dt.datetime) -> dt.date:
    """The New York calendar date of a tick (the tick itself is at 18:00 New York)."""
    if scheduled_time.tzinfo is None:
        raise ValueError(f"scheduled time {scheduled_time!r} has no timezone")
    return scheduled_time.astimezone(ZoneInfo(EXECUTION_TIMEZONE)).date()


def days_to_request(
    tick_day: dt.date,
    previously_requested: Iterable[dt.date],
    catch_up: int = CATCH_UP_TRADING_DAYS,
) -> list[dt.date]:
    """Sessions a tick on `tick_day` should run, oldest first; empty on a non-trading day.

    Missed sessions are those after the latest previously requested one and before
    `tick_day` that were never requested; with no history there is nothing to catch up
    (a fresh deployment starts today, earlier days are a backfill).
    """
    if not is_trading_day(tick_day):
        return []
    earlier = sorted(day for day in set(previously_requested) if day < tick_day)
    wanted = [tick_day]
    if earlier and catch_up > 0:
        since_last = trading_days(
            earlier[-1] + dt.timedelta(days=1), tick_day - dt.timedelta(days=1)
        )
        missed = [day.date() for day in since_last if day.date() not in set(earlier)]
        wanted = missed[-catch_up:] + wanted
    return wanted


def _previously_requested(context: ScheduleEvaluationContext) -> list[dt.date]:
    records = context.instance.get_run_records(
        filters=RunsFilter(tags={SCHEDULE_NAME_TAG: SCHEDULE_NAME}), limit=HISTORY_RUNS
    )
    days = []
    for record in records:
        key = record.dagster_run.tags.get(RUN_KEY_TAG)
        try:
            days.append(dt.date.fromisoformat(key))
        except (TypeError, ValueError):
            continue
    return days


def run_request_for(day: dt.date, catch_up: bool) -> RunRequest:
    key = day.isoformat()
    window_start = trading_day_partitions.start_time_for_partition_key(key)
    if trading_day_partitions.is_window_start_excluded(window_start):
        raise ValueError(f"{key} is a trading day but not a bank_prices partition")
    return RunRequest(
        run_key=key,
        partition_key=key,
        tags={"acct445/trigger": "catch-up" if catch_up else "daily"},
    )


def evaluate_tick(
    scheduled: dt.datetime, previously_requested: Iterable[dt.date]
) -> SkipReason | list[RunRequest]:
    """What the tick at `scheduled` does, given the sessions this schedule already ran."""
    tick_day = session_of_tick(scheduled)
    if not is_trading_day(tick_day):
        return SkipReason(f"{tick_day:%Y-%m-%d} ({tick_day:%A}) is an NYSE holiday")
    days = days_to_request(tick_day, previously_requested)
    return [run_request_for(day, catch_up=day != tick_day) for day in days]


@schedule(
    name=SCHEDULE_NAME,
    cron_schedule=DAILY_CRON,
    execution_timezone=EXECUTION_TIMEZONE,
    job=daily_bank_prices_job,
    default_status=DefaultScheduleStatus.RUNNING,
    description="18:00 New York on NYSE sessions; skips exchange holidays; catches up missed days.",
)
def daily_bank_prices_schedule(context: ScheduleEvaluationContext):
    scheduled = context.scheduled_execution_time or dt.datetime.now(ZoneInfo(EXECUTION_TIMEZONE))
    if not is_trading_day(session_of_tick(scheduled)):
        return evaluate_tick(scheduled, [])
    return evaluate_tick(scheduled, _previously_requested(context))


def _cron_days_of_week(field: str) -> set[int]:
    """Cron day-of-week field (0/7 = Sunday) as Python weekdays (0 = Monday)."""
    days: set[int] = set()
    for part in field.split(","):
        if part == "*":
            return set(range(7))
        lo, _, hi = part.partition("-")
        days.update((d - 1) % 7 for d in range(int(lo), int(hi or lo) + 1))
    return days


def cron_ticks(start: dt.datetime, cron: str, timezone: str) -> Iterator[dt.datetime]:
    """Ticks of a daily cron (`M H * * DOW`) at or after `start`, in `timezone`.

    Wall-clock times are built per local date, so a tick stays at H:M local across DST.
    """
    minute, hour, day, month, weekdays = cron.split()
    if day != "*" or month != "*" or not (minute.isdigit() and hour.isdigit()):
        raise ValueError(f"cron {cron!r}: only 'M H * * DOW' schedules are supported")
    zone = ZoneInfo(timezone)
    allowed = _cron_days_of_week(weekdays)
    day_ = start.astimezone(zone).date()
    while True:
        if day_.weekday() in allowed:
            tick = dt.datetime.combine(day_, dt.time(int(hour), int(minute)), tzinfo=zone)
            if tick >= start:
                yield tick
        day_ += dt.timedelta(days=1)


def tick_times(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The schedule's tick times in [start, end), at its cron in its execution timezone."""
    ticks = []
    for tick in cron_ticks(
        start,
        daily_bank_prices_schedule.cron_schedule,
        daily_bank_prices_schedule.execution_timezone,
    ):
        if tick >= end:
            break
        ticks.append(tick)
    return ticks


jobs = [daily_bank_prices_job]
schedules = [daily_bank_prices_schedule]
