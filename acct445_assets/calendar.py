"""NYSE trading calendar helpers."""

from __future__ import annotations

from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

CALENDAR_FIRST = "2000-01-03"
CALENDAR_LAST = "2035-12-31"


@lru_cache(maxsize=1)
def nyse():
    return xcals.get_calendar("XNYS", start=CALENDAR_FIRST, end=CALENDAR_LAST)


def trading_days(start, end) -> pd.DatetimeIndex:
    """NYSE sessions in [start, end] as naive midnight timestamps."""
    sessions = nyse().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    return pd.DatetimeIndex(sessions.tz_localize(None) if sessions.tz else sessions, name="date")


def is_trading_day(day) -> bool:
    return bool(nyse().is_session(pd.Timestamp(day).normalize()))


def weekday_holidays(start, end) -> list[pd.Timestamp]:
    """Weekdays in [start, end] on which NYSE is closed (full-day holidays)."""
    weekdays = pd.bdate_range(start, end)
    return list(weekdays.difference(trading_days(start, end)))


def add_trading_days(dates, n: int) -> pd.DatetimeIndex:
    """Date of the n-th session after each date (a non-session date counts from the next session)."""
    dates = pd.DatetimeIndex(pd.to_datetime(dates)).normalize()
    sessions = trading_days(CALENDAR_FIRST, CALENDAR_LAST)
    pos = sessions.searchsorted(dates, side="left")
    on_session = (pos < len(sessions)) & (sessions[pos.clip(max=len(sessions) - 1)] == dates)
    target = pos + n - (~on_session).astype(int) * (1 if n > 0 else 0)
    return sessions[target.clip(0, len(sessions) - 1)]
