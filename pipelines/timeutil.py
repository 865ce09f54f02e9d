"""UTC instants and Europe/Berlin service dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def parse_date(value: str | dt.date) -> dt.date:
    """A date from 'YYYY-MM-DD' (or a date, unchanged)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def parse_instant(value: str | dt.datetime) -> dt.datetime:
    """An aware UTC datetime from ISO text; naive input is taken as UTC."""
    ts = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def local_midnight_utc(day: dt.date) -> dt.datetime:
    """The UTC instant of 00:00 Europe/Berlin on `day` (handles DST days of 23 or 25 hours)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=BERLIN).astimezone(UTC)


def service_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a Berlin calendar day as UTC instants."""
    return local_midnight_utc(day), local_midnight_utc(day + dt.timedelta(days=1))


def service_date_of(instant: dt.datetime) -> dt.date:
    """The Berlin calendar date of a UTC instant."""
    return instant.astimezone(BERLIN).date()


def hour_floor(instant: dt.datetime) -> dt.datetime:
    """The UTC hour containing `instant`."""
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hours_between(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """UTC hour starts h with start <= h < end (start is floored to the hour)."""
    out, h = [], hour_floor(start)
    while h < end:
        out.append(h)
        h += dt.timedelta(hours=1)
    return out


def hour_key(instant: dt.datetime) -> str:
    """Partition key of a UTC hour, e.g. '2025-09-01T07'."""
    return hour_floor(instant).strftime("%Y-%m-%dT%H")


SERVICE_DAY_START_HOUR = 4


def service_date_for_local(local: dt.datetime) -> dt.date:
    """Service day of a stop at Berlin wall-clock time `local` (times before 04:00: the day before)."""
    local = local.astimezone(BERLIN) if local.tzinfo else local
    day = local.date()
    return day - dt.timedelta(days=1) if local.hour < SERVICE_DAY_START_HOUR else day
