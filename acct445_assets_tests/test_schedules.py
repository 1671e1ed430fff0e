"""The daily schedule: 18:00 New York on every NYSE session, holidays skipped, bounded catch-up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from dagster import RunRequest, SkipReason, build_schedule_context, instance_for_test
from dagster._core.test_utils import create_run_for_test

from acct445_assets.calendar import trading_days, weekday_holidays
from acct445_assets.ops.schedules import (
    CATCH_UP_TRADING_DAYS,
    RUN_KEY_TAG,
    SCHEDULE_NAME,
    SCHEDULE_NAME_TAG,
    daily_bank_prices_schedule,
    days_to_request,
    evaluate_tick,
    session_of_tick,
    tick_times,
)

NEW_YORK = ZoneInfo("America/New_York")
FIRST, LAST = dt.date(2026, 1, 1), dt.date(2030, 12, 31)


def us_daylight_saving(day: dt.date) -> bool:
    """US rule since 2007, computed by hand: second Sunday of March to first Sunday of November
    (the switch happens at 02:00, so an 18:00 tick on either Sunday is already on the new time)."""

    def nth_sunday(month: int, n: int) -> dt.date:
        first = dt.date(day.year, month, 1)
        return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))

    return nth_sunday(3, 2) <= day < nth_sunday(11, 1)


def evaluate(instance, tick: dt.datetime):
    context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
    result = daily_bank_prices_schedule(context)
    return result


@pytest.fixture(scope="module")
def ticks_2026_2030() -> list[dt.datetime]:
    start = dt.datetime(2026, 1, 1, tzinfo=NEW_YORK)
    end = dt.datetime(2031, 1, 1, tzinfo=NEW_YORK)
    return tick_times(start, end)


def test_ticks_fall_at_1800_new_york_on_every_weekday_across_dst(ticks_2026_2030):
    weekdays = [d.date() for d in pd.bdate_range(FIRST, LAST)]
    assert [session_of_tick(t) for t in ticks_2026_2030] == weekdays  # none skipped or doubled
    utc_hours = set()
    for tick in ticks_2026_2030:
        local = tick.astimezone(NEW_YORK)
        assert (local.hour, local.minute, local.second) == (18, 0, 0), tick
        expected_utc_hour = 22 if us_daylight_saving(local.date()) else 23
        assert tick.astimezone(dt.UTC).hour == expected_utc_hour, tick
        utc_hours.add(expected_utc_hour)
    assert utc_hours == {22, 23}
    # Ten DST changes in five years; the weekday ticks on each side are one calendar day apart
    # or a weekend apart, and never 23h/25h shifted away from 18:00.
    changes = [
        (a, b)
        for a, b in zip(ticks_2026_2030, ticks_2026_2030[1:], strict=False)
        if us_daylight_saving(a.date()) != us_daylight_saving(b.date())
    ]
    assert len(changes) == 10


def test_schedule_runs_every_trading_day_and_skips_holidays(ticks_2026_2030):
    requested, skipped = [], []
    for tick in ticks_2026_2030:
        # Each earlier tick ran, so there is nothing to catch up: one request per session.
        result = evaluate_tick(tick, requested)
        if isinstance(result, SkipReason):
            skipped.append(session_of_tick(tick))
            assert "holiday" in result.skip_message
            continue
        assert len(result) == 1 and isinstance(result[0], RunRequest), (tick, result)
        request = result[0]
        assert request.run_key == request.partition_key == session_of_tick(tick).isoformat()
        assert request.tags["acct445/trigger"] == "daily"
        requested.append(session_of_tick(tick))
    assert requested == [d.date() for d in trading_days(FIRST, LAST)]
    assert skipped == [d.date() for d in weekday_holidays(FIRST, LAST)]
    for holiday in ("2026-04-03", "2026-07-03", "2027-11-25", "2028-12-25", "2030-01-01"):
        assert dt.date.fromisoformat(holiday) in skipped
    assert len(set(requested)) == len(requested)


def _record_scheduled_run(instance, day: dt.date) -> None:
    create_run_for_test(
        instance,
        job_name="daily_bank_prices",
        tags={SCHEDULE_NAME_TAG: SCHEDULE_NAME, RUN_KEY_TAG: day.isoformat()},
    )


def _tick(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(18), NEW_YORK)


def test_schedule_definition_with_an_instance_requests_the_tick_day_or_skips():
    with instance_for_test() as instance:
        (request,) = evaluate(instance, _tick("2026-07-02"))
        assert request.partition_key == request.run_key == "2026-07-02"
        skip = evaluate(instance, _tick("2026-11-26"))  # Thanksgiving
        assert isinstance(skip, SkipReason) and "2026-11-26" in skip.skip_message


def test_tick_catches_up_days_missed_while_the_daemon_was_down():
    with instance_for_test() as instance:
        _record_scheduled_run(instance, dt.date(2026, 6, 29))  # Monday
        # Daemon down Tuesday and Wednesday; the daemon evaluates Thursday's tick.
        result = evaluate(instance, _tick("2026-07-02"))
        assert [r.partition_key for r in result] == ["2026-06-30", "2026-07-01", "2026-07-02"]
        assert [r.tags["acct445/trigger"] for r in result] == ["catch-up", "catch-up", "daily"]


def test_catch_up_skips_holidays_and_is_bounded():
    with instance_for_test() as instance:
        _record_scheduled_run(instance, dt.date(2026, 6, 1))
        result = evaluate(instance, _tick("2026-07-07"))
        days = [r.partition_key for r in result]
        assert days[-1] == "2026-07-07"
        assert len(days) == CATCH_UP_TRADING_DAYS + 1
        assert days[:-1] == ["2026-06-29", "2026-06-30", "2026-07-01", "2026-07-02", "2026-07-06"]
        assert "2026-07-03" not in days  # Independence Day observed


def test_days_already_run_are_not_requested_again():
    previous = [dt.date(2026, 6, 29), dt.date(2026, 6, 30), dt.date(2026, 7, 1)]
    assert days_to_request(dt.date(2026, 7, 2), previous) == [dt.date(2026, 7, 2)]
    # A re-evaluated tick for a day that already ran asks only for itself; the daemon's
    # run_key check then keeps it from running twice.
    assert days_to_request(dt.date(2026, 7, 1), previous) == [dt.date(2026, 7, 1)]
    assert days_to_request(dt.date(2026, 7, 3), previous) == []


def test_naive_tick_time_is_rejected():
    with pytest.raises(ValueError, match="no timezone"):
        session_of_tick(dt.datetime(2026, 7, 2, 18))


def test_daily_job_targets_bank_prices_and_the_warehouse_and_automation_the_rest():
    from dagster import AssetKey

    from acct445_assets.definitions import defs
    from acct445_assets.ops.automation import QUARTERLY_ASSETS, QUARTERLY_GROUPS

    job = defs.resolve_job_def("daily_bank_prices")
    selected = set(job.asset_layer.executable_asset_keys)
    graph = defs.resolve_asset_graph()
    downstream = {AssetKey(["raw", "bank_prices"])}
    frontier = list(downstream)
    while frontier:
        key = frontier.pop()
        for child in graph.get(key).child_keys:
            if child not in downstream and graph.get(child).is_executable:
                downstream.add(child)
                frontier.append(child)
    quarterly = {
        key
        for key in downstream
        if graph.get(key).group_name in QUARTERLY_GROUPS or tuple(key.path) in QUARTERLY_ASSETS
    }
    assert AssetKey(["research", "did_estimates"]) in quarterly
    assert AssetKey(["disclosure", "opacity_validation"]) in quarterly
    assert selected == downstream - quarterly
    assert AssetKey(["warehouse", "stg_bank_returns"]) in selected
    assert job.partitions_def is not None
    assert {s.name for s in defs.schedules} >= {"daily_bank_prices_schedule"}
    # Every asset the daily job leaves out is requested by the running automation sensor.
    sensor = defs.resolve_sensor_def("quarterly_research")
    assert sensor.default_status.value == "RUNNING"
    targeted = sensor.asset_selection.resolve(graph)
    assert quarterly <= targeted


def test_quarterly_condition_is_a_new_york_cron_on_quarter_starts():
    from acct445_assets.ops.automation import QUARTERLY_CRON, quarterly_condition

    assert QUARTERLY_CRON.split()[2:4] == ["1", "1,4,7,10"]
    assert "America/New_York" in quarterly_condition.get_label() or any(
        "America/New_York" in str(c) for c in quarterly_condition.children
    )


def test_local_and_deployment_instances_share_the_run_policy():
    import yaml

    repo = Path(__file__).resolve().parents[1]
    local = yaml.safe_load((repo / "dagster.yaml").read_text())
    deploy = yaml.safe_load((repo / "deploy" / "dagster.yaml").read_text())
    for section in ("concurrency", "run_retries", "run_monitoring", "scheduler", "run_coordinator"):
        assert local[section] == deploy[section], section
    assert local["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert "run_queue" not in local and "config" not in local["run_coordinator"]
    assert deploy["run_launcher"]["class"] == "DockerRunLauncher"
