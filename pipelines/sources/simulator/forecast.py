"""The forecast model, vectorized: which stops each (station, instant) board lists and the delays it shows.

ARCHITECTURE.md "Simulator forecast model": a stop is listed from `lookahead` before its scheduled time
until its true departure (true arrival at a terminus); an event already happened shows its true delay,
a future one max(delay known at t, minutes its scheduled time is already past). Boards (one poll) and
the bulk path (every poll of an interval) both use `board_pairs`, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.sources.simulator.truthprep import StopTable, prepare_stops

BIG = np.int64(1 << 33)  # seconds since 1970 stay below 2**33 until 2242: station/run * BIG + t is unique


@dataclass
class Prepared:
    """Truth of some service days in array form, ready for many board look-ups."""

    stops: StopTable
    event_key: np.ndarray = field(repr=False)  # run * BIG + true time, sorted
    event_delay: np.ndarray = field(repr=False)  # whole minutes
    event_row: np.ndarray = field(repr=False)  # stop row the event belongs to
    event_time: np.ndarray = field(repr=False)  # seconds


def _events(st: StopTable) -> tuple[np.ndarray, ...]:
    """Every arrival and departure that truly happens, as (key, delay, row, time) sorted by run then time."""
    parts = []
    for sched, true in ((st.sched_arr, st.true_arr), (st.sched_dep, st.true_dep)):
        ok = (true >= 0) & (sched >= 0) & ~st.cancelled
        rows = np.flatnonzero(ok)
        parts.append((rows, true[rows], np.floor_divide(true[rows] - sched[rows], 60)))
    rows = np.concatenate([p[0] for p in parts])
    times = np.concatenate([p[1] for p in parts])
    delays = np.concatenate([p[2] for p in parts])
    keys = st.run[rows] * BIG + times
    # departure sorts after the arrival at the same stop and second: it is the later event
    order = np.lexsort((np.concatenate([np.zeros(len(parts[0][0])), np.ones(len(parts[1][0]))]), keys))
    return keys[order], delays[order], rows[order], times[order]


def prepare(truth: pd.DataFrame, lookahead_min: int) -> Prepared:
    """Index a truth frame (ARCHITECTURE.md `truth` columns) for board look-ups."""
    stops = prepare_stops(truth, lookahead_min)
    key, delay, row, time = _events(stops)
    return Prepared(stops, key, delay, row, time)


def _expand(lo: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, index) pairs for the ranges [lo[i], lo[i] + n[i]) without a Python loop."""
    owner = np.repeat(np.arange(len(n)), n)
    offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return owner, np.repeat(lo, n) + offsets


def board_pairs(prep: Prepared, poll_station: np.ndarray, poll_time: np.ndarray) -> pd.DataFrame:
    """One row per (poll, listed stop): `poll`, `row` (stop row) and the delays shown at that instant.

    `poll_station` holds station codes of `prep.stops.station_names`; polls must be sorted by
    (station, time); times are integer seconds since 1970 UTC.
    """
    st = prep.stops
    poll_key = poll_station.astype(np.int64) * BIG + poll_time
    if len(poll_key) > 1 and np.any(np.diff(poll_key) < 0):
        raise ValueError("polls must be sorted by (station, time)")
    lo = np.searchsorted(poll_key, st.station * BIG + st.listed_from, "left")
    hi = np.searchsorted(poll_key, st.station * BIG + st.leave, "left")  # listed while t < leave
    row, poll = _expand(lo, np.clip(hi - lo, 0, None))
    t = poll_time[poll]
    run = st.run[row]
    j = np.searchsorted(prep.event_key, run * BIG + t, "right") - 1
    known_ok = (j >= 0) & (prep.event_key[np.clip(j, 0, None)] // BIG == run)
    jc = np.clip(j, 0, None)
    known = np.where(known_ok, prep.event_delay[jc], 0)
    delay_arr = _shown(st.sched_arr[row], st.true_arr[row], st.cancelled[row], known, t)
    delay_dep = _shown(st.sched_dep[row], st.true_dep[row], st.cancelled[row], known, t)
    due = np.where(st.sched_dep[row] >= 0, st.sched_dep[row], st.sched_arr[row])
    forecast = np.where(
        st.sched_dep[row] >= 0,
        st.sched_dep[row] + 60 * np.where(delay_dep == NULL, 0, delay_dep),
        st.sched_arr[row] + 60 * np.where(delay_arr == NULL, 0, delay_arr),
    )
    return pd.DataFrame(
        {
            "poll": poll,
            "row": row,
            "t": t,
            "delay_arr": delay_arr,
            "delay_dep": delay_dep,
            "known_row": np.where(known_ok, prep.event_row[jc], -1),
            "known_time": np.where(known_ok, prep.event_time[jc], -1),
            "forecast": forecast,
            # platform changes are announced shortly before the train is due, not hours ahead
            "platform_known": t >= due - 60 * PLATFORM_NOTICE_MIN,
        }
    )


PLATFORM_NOTICE_MIN = 20
NULL = np.int64(-(1 << 40))  # marks "this event does not exist" inside integer delay arrays


def _shown(
    sched: np.ndarray, true: np.ndarray, cancelled: np.ndarray, known: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Delay shown for one event kind: true once it happened, else the forecast; NULL if no such event."""
    happened = (true >= 0) & (true <= t)
    past = np.floor_divide(t - sched, 60)
    shown = np.where(happened, np.floor_divide(true - sched, 60), np.maximum(known, past))
    shown = np.where(cancelled, 0, shown)  # boards show cancelled stops without delay
    return np.where(sched >= 0, shown, NULL)


__all__ = ["NULL", "Prepared", "board_pairs", "prepare"]
