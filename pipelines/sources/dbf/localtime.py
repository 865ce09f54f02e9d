"""Resolving a board's dateless HH:MM Berlin times to UTC instants near the poll time."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from pipelines.timeutil import BERLIN, UTC

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)", re.ASCII)


def parse_hhmm(text: str) -> dt.time | None:
    """The wall-clock time of an "HH:MM" string, or None when it is not one."""
    match = _HHMM.fullmatch(text)
    return dt.time(int(match.group(1)), int(match.group(2))) if match else None


@lru_cache(maxsize=8192)
def _candidates(local_day: dt.date, clock: dt.time) -> tuple[dt.datetime, ...]:
    """UTC readings of `clock` on the Berlin days around `local_day`, both folds (DST) included."""
    out = set()
    for offset in (-1, 0, 1):
        day = local_day + dt.timedelta(days=offset)
        for fold in (0, 1):
            # fold=1 gives the second reading of an hour that happens twice (October) and the
            # post-transition reading of an hour that does not exist (March): both stay candidates.
            local = dt.datetime.combine(day, clock, tzinfo=BERLIN).replace(fold=fold)
            out.add(local.astimezone(UTC))
    return tuple(sorted(out))


def resolve_local_time(clock: dt.time, delay_min: int | None, poll_time: dt.datetime) -> dt.datetime:
    """The UTC instant of Berlin wall-clock `clock` whose time plus delay lies nearest `poll_time`.

    Ties go to the earlier instant, so the choice is deterministic.
    """
    poll_utc = poll_time.astimezone(UTC)
    shift = dt.timedelta(minutes=delay_min or 0)
    options = _candidates(poll_utc.astimezone(BERLIN).date(), clock)
    return min(options, key=lambda t: (abs(t + shift - poll_utc), t))
