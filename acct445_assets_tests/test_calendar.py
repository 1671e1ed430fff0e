import json

import pandas as pd
import pytest

from acct445_assets import calendar


@pytest.fixture()
def table(tmp_path, monkeypatch):
    path = calendar.write_sessions_table(tmp_path / "xnys_sessions.json")
    monkeypatch.setattr(calendar, "SESSIONS_TABLE", path)
    calendar.nyse_sessions.cache_clear()
    yield path
    calendar.nyse_sessions.cache_clear()


def test_the_stored_table_holds_exactly_the_calendars_sessions(table):
    stored = calendar._stored_sessions(table)
    pd.testing.assert_index_equal(stored, calendar.calendar_sessions(), exact=False)
    # Juneteenth (2022-), Carter's day of mourning, Good Friday, a weekend.
    for day in ("2022-06-20", "2025-01-09", "2024-03-29", "2024-03-30"):
        assert pd.Timestamp(day) not in stored


def test_a_table_from_another_exchange_calendars_or_range_is_not_used(table):
    for change in ({"exchange_calendars": "0.0.1"}, {"first": "2010-01-04"}):
        edited = {**json.loads(table.read_text()), **change}
        table.write_text(json.dumps(edited))
        assert calendar._stored_sessions(table) is None
    table.write_text("{broken")
    assert calendar._stored_sessions(table) is None
    pd.testing.assert_index_equal(calendar.nyse_sessions(), calendar.calendar_sessions())


def test_trading_days_and_sessions_answer_as_the_calendar_does(table):
    xnys = calendar.nyse()
    ranges = [
        ("2018-01-01", "2018-12-31"),
        ("2022-06-17", "2022-06-21"),
        ("2024-03-30", "2024-03-31"),  # a weekend: no session
        (calendar.CALENDAR_FIRST, calendar.CALENDAR_LAST),
    ]
    for start, end in ranges:
        expected = xnys.sessions_in_range(start, end)
        got = calendar.trading_days(start, end)
        assert got.name == "date"
        assert list(got) == list(expected.tz_localize(None) if expected.tz else expected)
    for day in pd.date_range("2024-12-20", "2025-01-15"):
        assert calendar.is_trading_day(day) == xnys.is_session(day)
    with pytest.raises(ValueError):
        calendar.trading_days("1990-01-02", "1990-02-01")  # outside: the calendar's error
