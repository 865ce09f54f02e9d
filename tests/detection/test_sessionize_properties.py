"""Property: the vectorized detector equals the row-by-row reference on random snapshot streams."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sessionize import poll, snap, tables

from pipelines import schema as s
from pipelines.detection.sessionize import Window, detect
from pipelines.detection.sessionize_reference import detect_reference

pytestmark = pytest.mark.unit

T0 = dt.datetime(2025, 3, 29, 22, 0, tzinfo=dt.UTC)  # the night of the spring DST jump
STEPS_MIN = [1, 2, 3, 3, 3, 3, 5, 12]                # short steps and long spans reach the slow path


@st.composite
def station_stream(draw: st.DrawFn, station: str) -> tuple[list[dict], list[dict]]:
    """Polls of one station on a random grid, and trains shown on random runs of them."""
    n = draw(st.integers(3, 30))
    steps = draw(st.lists(st.sampled_from(STEPS_MIN), min_size=n, max_size=n))
    jitter = draw(st.lists(st.integers(-30, 30), min_size=n, max_size=n))
    times, at = [], T0
    for step, j in zip(steps, jitter, strict=True):
        at += dt.timedelta(minutes=step)
        times.append(at + dt.timedelta(seconds=j) if step > 1 else at)
    status = draw(st.lists(st.sampled_from(["ok"] * 6 + ["failed", "quarantined"]), min_size=n, max_size=n))
    polls = [poll(station, t, x) for t, x in zip(times, status, strict=True)]
    rows = []
    for number in draw(st.lists(st.sampled_from(["1", "2", "30013"]), max_size=3, unique=True)):
        first = draw(st.integers(0, n - 1))
        last = draw(st.integers(first, n - 1))
        for i in range(first, last + 1):
            shown = status[i] == "ok" and draw(st.integers(0, 9)) > 0  # a few glitches drop a record
            if shown or draw(st.integers(0, 30)) == 0:                 # rarely a row at a non-ok poll
                copies = draw(st.sampled_from([1] * 8 + [2]))
                rows += [_row(draw, station, times[i], number) for _ in range(copies)]
    return rows, polls


def _row(draw: st.DrawFn, station: str, at: dt.datetime, number: str) -> dict:
    sched = draw(st.sampled_from([T0 + dt.timedelta(minutes=40), T0 + dt.timedelta(minutes=90), None]))
    day = draw(st.sampled_from([T0.date(), T0.date() + dt.timedelta(1)]))
    return snap(station, at, number, sched=sched, day=day,
                delay_departure=draw(st.sampled_from([0, 1, 4, 25, -1, None])),
                is_cancelled=draw(st.sampled_from([False] * 5 + [True, None])),
                platform=draw(st.sampled_from(["2", "2", "3", None])),
                destination=draw(st.sampled_from(["Krefeld Hbf"] * 6 + [station, "Hagen Hbf"])))


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:
    rows, polls = [], []
    for station in draw(st.lists(st.sampled_from(["A", "B"]), min_size=1, max_size=2, unique=True)):
        r, p = draw(station_stream(station))
        rows += r
        polls += p
    return draw(st.permutations(rows)), draw(st.permutations(polls))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(stream=streams(), gap=st.sampled_from([3, 5, 7]), grace=st.sampled_from([0, 2]),
       close_min=st.integers(20, 400))
def test_vectorized_equals_reference(stream: tuple[list[dict], list[dict]], gap: int, grace: int,
                                     close_min: int) -> None:
    snaps, polls = tables(*stream)
    window = Window(dt.timedelta(minutes=gap), dt.timedelta(minutes=grace),
                    T0 + dt.timedelta(minutes=close_min))
    fast, counts = detect(snaps, polls, window)
    slow, ref_counts = detect_reference(snaps, polls, window)
    assert fast.equals(slow), (fast.to_pylist(), slow.to_pylist())
    assert {k: counts[k] for k in ref_counts} == ref_counts
    assert counts["rows"] == snaps.num_rows
    assert fast[s.DEPARTURE_ID].to_pylist() == sorted(fast[s.DEPARTURE_ID].to_pylist())
