"""Row-by-row reference of the departure detector: slow and obvious, to check `sessionize` against.

Implements the rules in the `pipelines.detection.sessionize` docstring one sighting at a time.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from typing import Any

import pyarrow as pa

from pipelines import schema as s
from pipelines.detection.ids import departure_id
from pipelines.detection.sessionize import INPUT_COLUMNS, LAST_SHOWN, Window


def rank(row: dict[str, Any]) -> tuple:
    """Order among rows of one poll: higher wins, null lowest (as `DESC NULLS LAST`)."""
    return tuple((row[c] is not None, row[c]) for c in LAST_SHOWN)


def good_polls(snapshots: list[dict], polls: list[dict]) -> dict[str, list[dt.datetime]]:
    """Sorted good poll times per station: ok polls plus every poll time a snapshot shows."""
    good: dict[str, set[dt.datetime]] = defaultdict(set)
    for poll in polls:
        if poll[s.POLL_STATUS] == "ok":
            good[poll[s.STATION]].add(poll[s.POLL_TIME])
    for row in snapshots:
        good[row[s.STATION]].add(row[s.POLL_TIME])
    return {station: sorted(times) for station, times in good.items()}


def _first_at_or_after(times: list[dt.datetime], instant: dt.datetime) -> dt.datetime | None:
    i = bisect.bisect_left(times, instant)
    return times[i] if i < len(times) else None


def last_session(sightings: list[dict], good: list[dt.datetime], gap: dt.timedelta) -> list[dict]:
    """The rows of the last session among time-sorted, one-per-poll `sightings`."""
    start = 0
    for i in range(1, len(sightings)):
        before, after = sightings[i - 1][s.POLL_TIME], sightings[i][s.POLL_TIME]
        evidence = _first_at_or_after(good, before + gap)
        if evidence is not None and evidence < after:  # a good board without the train, gap after it
            start = i
    return sightings[start:]


def state_of(last: dict, good: list[dt.datetime], window: Window) -> str:
    """decided, undecided (not yet by the close time) or terminating (no departure here)."""
    if last[s.SCHEDULED_DEPARTURE] is None or last[s.DESTINATION] == last[s.STATION]:
        return "terminating"
    seen = last[s.POLL_TIME]
    evidence = _first_at_or_after(good, seen + window.gap)
    if seen + window.gap + window.grace > window.close or evidence is None or evidence > window.close:
        return "undecided"
    return "decided"


def departure_row(session: list[dict], good: list[dt.datetime], window: Window) -> dict[str, Any]:
    """The departures row of one decided last session."""
    first, last = session[0], session[-1]
    cancelled = bool(last[s.IS_CANCELLED])
    estimate = None
    if not cancelled:
        shown = last[s.SCHEDULED_DEPARTURE] + dt.timedelta(minutes=last[s.DELAY_DEPARTURE] or 0)
        estimate = max(shown, last[s.POLL_TIME])
        i = bisect.bisect_right(good, last[s.POLL_TIME])
        if i < len(good):  # the next good poll no longer showed it: it had left by then
            estimate = min(estimate, good[i])
    route = last[s.ROUTE]
    changed = any(r[s.PLATFORM] is not None and r[s.SCHEDULED_PLATFORM] is not None
                  and r[s.PLATFORM] != r[s.SCHEDULED_PLATFORM] for r in session)
    return {
        s.DEPARTURE_ID: departure_id(last[s.SERVICE_DATE], last[s.TRAIN_NUMBER], last[s.STATION]),
        **{c: last[c] for c in (s.STATION, s.SERVICE_DATE, s.TRAIN_NUMBER, s.TRAIN, s.CATEGORY,
                                s.DESTINATION)},
        s.PLANNED_DESTINATION: None if route is None else route.split("|")[-1], s.ROUTE: route,
        s.SCHEDULED_DEPARTURE: last[s.SCHEDULED_DEPARTURE], s.FIRST_SEEN: first[s.POLL_TIME],
        s.LAST_SEEN: last[s.POLL_TIME], s.N_POLLS: len(session), s.DELAY_DEPARTURE: last[s.DELAY_DEPARTURE],
        s.DEPARTURE_ESTIMATE: estimate, s.IS_CANCELLED: cancelled, s.PLATFORM_CHANGED: changed,
        s.DECIDED_AT: last[s.POLL_TIME] + window.gap + window.grace,
    }


def detect_reference(snapshots: pa.Table, polls: pa.Table, window: Window) -> tuple[pa.Table, dict[str, int]]:
    """Same contract as `sessionize.detect`, computed row by row."""
    rows = snapshots.select(list(INPUT_COLUMNS)).to_pylist()
    good = good_polls(rows, polls.to_pylist())
    best: dict[tuple, dict[dt.datetime, dict]] = defaultdict(dict)
    for row in rows:
        key = (row[s.STATION], row[s.SERVICE_DATE], row[s.TRAIN_NUMBER])
        kept = best[key].get(row[s.POLL_TIME])
        if kept is None or rank(row) > rank(kept):
            best[key][row[s.POLL_TIME]] = row
    counts = {"decided": 0, "undecided": 0, "terminating": 0}
    out = []
    for key, by_time in best.items():
        sightings = [by_time[t] for t in sorted(by_time)]
        station_good = good[key[0]]
        state = state_of(sightings[-1], station_good, window)
        counts[state] += 1
        if state == "decided":
            out.append(departure_row(last_session(sightings, station_good, window.gap), station_good, window))
    out.sort(key=lambda r: r[s.DEPARTURE_ID])
    return pa.Table.from_pylist(out, schema=s.DEPARTURES_SCHEMA), counts
