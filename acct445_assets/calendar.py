"""NYSE trading calendar helpers.

Sessions come from exchange_calendars' XNYS. Building that calendar (and importing the
package) takes about 0.8 s, which every process loading the code location would pay for
the partition definitions; `make install` and the image build therefore store its
sessions in a table next to this module (`python -m acct445_assets.calendar`), used only
while it was made by the installed exchange_calendars for the same range.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

CALENDAR_FIRST = "2000-01-03"
CALENDAR_LAST = "2035-12-31"
SESSIONS_TABLE = Path(__file__).with_name("data") / "xnys_sessions.json"


@lru_cache(maxsize=1)
def nyse():
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start=CALENDAR_FIRST, end=CALENDAR_LAST)


def _table_key() -> dict:
    return {
        "calendar": "XNYS",
        "exchange_calendars": version("exchange_calendars"),
        "first": CALENDAR_FIRST,
        "last": CALENDAR_LAST,
    }


def calendar_sessions() -> pd.DatetimeIndex:
    """Every session in [CALENDAR_FIRST, CALENDAR_LAST], from exchange_calendars itself."""
    sessions = nyse().sessions
    return pd.DatetimeIndex(sessions.tz_localize(None) if sessions.tz else sessions, name="date")


def write_sessions_table(path: Path = SESSIONS_TABLE) -> Path:
    days = calendar_sessions().values.astype("datetime64[D]").astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**_table_key(), "days": days.tolist()}))
    return path


def _stored_sessions(path: Path = SESSIONS_TABLE) -> pd.DatetimeIndex | None:
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if {k: table.get(k) for k in _table_key()} != _table_key():
        return None
    days = np.asarray(table["days"], dtype=np.int64).astype("datetime64[D]")
    return pd.DatetimeIndex(days.astype("datetime64[ns]"), name="date")


@lru_cache(maxsize=1)
def nyse_sessions() -> pd.DatetimeIndex:
    stored = _stored_sessions()
    return stored if stored is not None else calendar_sessions()


def _in_table(*days: pd.Timestamp) -> bool:
    # Outside the table's range (or with a time zone) the calendar answers, and raises
    # as it always did.
    first, last = pd.Timestamp(CALENDAR_FIRST), pd.Timestamp(CALENDAR_LAST)
    return all(d.tz is None and first <= d <= last for d in days)


def trading_days(start, end) -> pd.DatetimeIndex:
    """NYSE sessions in [start, end] as naive midnight timestamps."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if not _in_table(start, end):
        sessions = nyse().sessions_in_range(start, end)
        return pd.DatetimeIndex(
            sessions.tz_localize(None) if sessions.tz else sessions, name="date"
        )
    sessions = nyse_sessions()
    return sessions[sessions.searchsorted(start) : sessions.searchsorted(end, side="right")]


def is_trading_day(day) -> bool:
    day = pd.Timestamp(day).normalize()
    if not _in_table(day):
        return bool(nyse().is_session(day))
    sessions = nyse_sessions()
    pos = sessions.searchsorted(day)
    return bool(pos < len(sessions) and sessions[pos] == day)


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


if __name__ == "__main__":
    print(f"calendar: {write_sessions_table()}")
