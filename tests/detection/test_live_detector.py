"""Property: decisions taken poll by poll (`live.detector`) end equal to the batch detector's.

The same random streams as the vectorized-vs-reference property, delivered as a poller would: poll by
poll in time order, some polls twice, some late (out of order), and a restart that rebuilds the state
from what was delivered so far while keeping what was already published.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sessionize import FAR, GAP, GRACE, grid, poll, snap, tables
from test_sessionize_properties import T0, streams

from pipelines import schema as s
from pipelines.detection.sessionize import Window, detect
from pipelines.live.detector import LiveDetector

pytestmark = pytest.mark.unit

Event = tuple[str, dt.datetime, bool, list[dict]]


def events_of(rows: list[dict], polls: list[dict]) -> list[Event]:
    """One event per (station, poll instant), in time order, as the archive holds them."""
    ok: dict[tuple, bool] = defaultdict(bool)
    shown: dict[tuple, list[dict]] = defaultdict(list)
    for p in polls:
        ok[(p[s.STATION], p[s.POLL_TIME])] |= p[s.POLL_STATUS] == "ok"
    for r in rows:
        shown[(r[s.STATION], r[s.POLL_TIME])].append(r)
    keys = sorted(set(ok) | set(shown), key=lambda k: (k[1], k[0]))
    return [(st_, t, ok[(st_, t)], shown[(st_, t)]) for st_, t in keys]


def deliver(events: list[Event], close: dt.datetime, restart_at: int | None = None) -> dict[str, list[dict]]:
    """Feed `events` in order, deciding after each; at `restart_at` start over from the delivered
    prefix and what was published (as `railcast live` restores its stream) and publish only what
    changed. Returns the published rows per departure_id, in order."""
    def fresh() -> LiveDetector:
        return LiveDetector(GAP, GRACE, lambda day: close)

    published: dict[str, list[dict | None]] = defaultdict(list)   # None: withdrawn

    def publish(found: list[dict], clock: dt.datetime) -> None:
        for row in found:
            assert row[s.DECIDED_AT] <= clock   # never before the rule allows
            history = published[row[s.DEPARTURE_ID]]
            if not history or history[-1] != row:  # a restart re-decides: nothing is published twice
                history.append(row)
        for row in detector.take_withdrawn():
            assert published[row[s.DEPARTURE_ID]][-1] == row
            published[row[s.DEPARTURE_ID]].append(None)

    detector = fresh()
    for i, (station, at, ok, shown) in enumerate(events):
        if i == restart_at:
            detector = fresh()
            detector.adopt(history[-1] for history in published.values() if history[-1] is not None)
            for replayed in events[:i]:
                detector.add_poll(*replayed)
            publish(detector.decide(), detector.clock)
        detector.add_poll(station, at, ok, shown)
        publish(detector.decide(), detector.clock)
    publish(detector.decide(FAR), FAR)
    return published


def batch(rows: list[dict], polls: list[dict], close: dt.datetime) -> list[dict]:
    """The batch detector on what the stage reads of a service date: polls before its close."""
    rows = [r for r in rows if r[s.POLL_TIME] < close]
    polls = [p for p in polls if p[s.POLL_TIME] < close]
    return detect(*tables(rows, polls), Window(GAP, GRACE, close))[0].to_pylist()


def latest(published: dict[str, list[dict | None]]) -> list[dict]:
    return [published[k][-1] for k in sorted(published) if published[k][-1] is not None]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(stream=streams(), close_min=st.integers(20, 400), data=st.data())
def test_in_order_delivery_with_duplicates_ends_at_the_batch_result(stream, close_min: int, data) -> None:
    rows, polls = stream
    close = T0 + dt.timedelta(minutes=close_min)
    events = events_of(rows, polls)
    doubled = data.draw(st.sets(st.integers(0, max(len(events) - 1, 0))))
    events = [e for i, e in enumerate(events) for _ in range(2 if i in doubled else 1)]
    published = deliver(events, close)
    assert latest(published) == batch(rows, polls, close)
    for history in published.values():   # a revision is a later session, never a correction back
        seen = [r[s.LAST_SEEN] for r in history if r is not None]
        assert seen == sorted(set(seen))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(stream=streams(), data=st.data())
def test_late_polls_and_a_restart_end_at_the_batch_result(stream, data) -> None:
    rows, polls = stream
    events = events_of(rows, polls)
    late = data.draw(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 6)), max_size=6))
    for position, by in late:   # a poll arrives `by` polls after its turn
        if position < len(events):
            events.insert(min(position + by, len(events)), events.pop(position))
    restart_at = data.draw(st.none() | st.integers(0, max(len(events) - 1, 0)))
    assert latest(deliver(events, FAR, restart_at)) == batch(rows, polls, FAR)


def test_a_train_is_decided_once_the_gap_and_grace_have_passed() -> None:
    times = grid(T0, [0, 3, 6, 9, 12, 15])
    rows = [snap("A", t, "1", sched=T0 + dt.timedelta(minutes=4)) for t in times[:2]]
    detector = LiveDetector(GAP, GRACE, lambda day: FAR)
    decisions = {}
    for t in times:
        detector.add_poll("A", t, True, [r for r in rows if r[s.POLL_TIME] == t])
        decisions[t] = detector.decide()
    # last seen at +3, evidence at +9 (first good poll >= +8), decided once the clock reaches +10
    assert [len(decisions[t]) for t in times] == [0, 0, 0, 0, 1, 0]
    assert decisions[times[4]] == batch(rows, [poll("A", t) for t in times], FAR)


def test_groups_of_closed_dates_are_forgotten() -> None:
    close = T0 + dt.timedelta(minutes=30)
    detector = LiveDetector(GAP, GRACE, lambda day: close)
    for t in grid(T0, range(0, 300, 3)):   # five hours, one poll every 3 minutes
        detector.add_poll("A", t, True, [snap("A", t, "1", sched=t + dt.timedelta(minutes=90))])
        detector.decide()
    assert detector.groups == {} and detector.pending == set()
    assert len(detector.good["A"]) <= 22   # at most the last hour's polls


def test_a_decided_train_keeps_only_its_decision_and_a_new_session_still_counts() -> None:
    times = grid(T0, range(0, 180, 3))                      # three hours of polls of one board
    shown = set(times[:5]) | set(times[40:45])              # a train that leaves, and is back 2 h later
    rows = [snap("A", t, "1", sched=T0 + dt.timedelta(minutes=150), day=T0.date())
            for t in times if t in shown]
    detector = LiveDetector(GAP, GRACE, lambda day: FAR)
    for t in times:
        detector.add_poll("A", t, True, [r for r in rows if r[s.POLL_TIME] == t])
        detector.decide()
        if t == times[39]:                                  # an hour after the first decision
            assert detector.groups == {} and list(detector.settled.values()) == [times[6]]   # +12 + 5 min
            detector.add_poll("A", times[2], True, [rows[2]])   # a copy of a poll almost two hours late
            assert detector.late_ignored == 1
    assert list(detector.decided.values()) == batch(rows, [poll("A", t) for t in times], FAR)
