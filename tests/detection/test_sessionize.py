"""Unit tests of the departure detector on hand-built snapshot sequences (vectorized and reference)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from pipelines import schema as s
from pipelines.detection.sessionize import Window, detect
from pipelines.detection.sessionize_reference import detect_reference

pytestmark = pytest.mark.unit

UTC = dt.UTC
GAP, GRACE = dt.timedelta(minutes=5), dt.timedelta(minutes=2)
FAR = dt.datetime(2030, 1, 1, tzinfo=UTC)  # a close time that decides everything


def snap(station: str, at: dt.datetime, number: str, **over: Any) -> dict[str, Any]:
    """One snapshot row with plausible defaults; `over` replaces columns."""
    sched = over.pop("sched", at + dt.timedelta(minutes=5))
    row = {s.STATION: station, s.POLL_TIME: at, s.SERVICE_DATE: over.pop("day", at.date()),
           s.TRAIN: "RE 7", s.CATEGORY: "RE", s.TRAIN_NUMBER: number, s.TRAIN_CLASSES: "N",
           s.DESTINATION: "Krefeld Hbf", s.PLATFORM: "2", s.SCHEDULED_PLATFORM: "2",
           s.SCHEDULED_ARRIVAL: sched and sched - dt.timedelta(minutes=1), s.SCHEDULED_DEPARTURE: sched,
           s.DELAY_ARRIVAL: 0, s.DELAY_DEPARTURE: 0, s.IS_CANCELLED: False, s.MISSING_REALTIME: False,
           s.REASON_CODES: "", s.ROUTE: f"Unna|{station}|Dortmund Hbf|Krefeld Hbf", s.CANCELLED_STOPS: "",
           s.ADDITIONAL_STOPS: "", s.VIA: "Dortmund Hbf"}
    row.update(over)
    return row


def poll(station: str, at: dt.datetime, status: str = "ok") -> dict[str, Any]:
    return {s.STATION: station, s.POLL_TIME: at, s.POLL_STATUS: status, s.POLL_RECORDS: 0,
            s.POLL_REASON: None}


def tables(rows: list[dict], polls: list[dict]) -> tuple[pa.Table, pa.Table]:
    return (pa.Table.from_pylist(rows, schema=s.SNAPSHOT_SCHEMA),
            pa.Table.from_pylist(polls, schema=s.POLLS_SCHEMA))


def both(rows: list[dict], polls: list[dict], close: dt.datetime = FAR) -> tuple[list[dict], dict]:
    """Run the vectorized detector and the reference; assert they agree; return rows and counts."""
    snaps, poll_table = tables(rows, polls)
    window = Window(GAP, GRACE, close)
    fast, counts = detect(snaps, poll_table, window)
    slow, ref_counts = detect_reference(snaps, poll_table, window)
    assert fast.equals(slow), (fast.to_pylist(), slow.to_pylist())
    assert {k: counts[k] for k in ref_counts} == ref_counts
    return fast.to_pylist(), counts


def grid(start: dt.datetime, minutes: list[float]) -> list[dt.datetime]:
    return [start + dt.timedelta(minutes=m) for m in minutes]


HOLZ = "Holzwickede"
T0 = dt.datetime(2022, 6, 20, 10, 13, tzinfo=UTC)  # 12:13 CEST


def test_worked_example_holzwickede() -> None:
    """docs/RAIL_FACTS.md section 2: RE 7 / 32557 seen 12:13-12:21, window closes 12:28, departed 12:21."""
    sched = dt.datetime(2022, 6, 20, 10, 19, tzinfo=UTC)
    times = grid(T0, [0, 2, 4, 6, 8])
    rows = [snap(HOLZ, t, "32557", sched=sched, delay_departure=d)
            for t, d in zip(times, [1, 1, 2, 2, 2], strict=True)]
    polls = [poll(HOLZ, t) for t in grid(T0, range(0, 30, 2))]
    (dep,), counts = both(rows, polls)
    assert dep[s.LAST_SEEN] == dt.datetime(2022, 6, 20, 10, 21, tzinfo=UTC)
    assert dep[s.DECIDED_AT] == dt.datetime(2022, 6, 20, 10, 28, tzinfo=UTC)
    assert dep[s.DEPARTURE_ESTIMATE] == dt.datetime(2022, 6, 20, 10, 21, tzinfo=UTC)  # 12:19 + 2
    assert (dep[s.FIRST_SEEN], dep[s.N_POLLS], dep[s.DELAY_DEPARTURE]) == (T0, 5, 2)
    assert dep[s.PLANNED_DESTINATION] == "Krefeld Hbf" and not dep[s.IS_CANCELLED]
    # the same day closing one minute before 12:28 leaves it undecided
    assert both(rows, polls, close=dt.datetime(2022, 6, 20, 10, 27, tzinfo=UTC))[1]["undecided"] == 1


def test_estimate_is_forecast_but_never_before_last_seen() -> None:
    sched = T0 + dt.timedelta(minutes=2)
    early = [snap(HOLZ, t, "1", sched=sched, delay_departure=3) for t in grid(T0, [0, 3])]
    overdue = [snap(HOLZ, t, "2", sched=T0, delay_departure=1) for t in grid(T0, [0, 3, 6])]
    polls = [poll(HOLZ, t) for t in grid(T0, range(0, 40, 3))]
    deps, _ = both(early + overdue, polls)
    by = {d[s.TRAIN_NUMBER]: d for d in deps}
    assert by["1"][s.DEPARTURE_ESTIMATE] == sched + dt.timedelta(minutes=3)  # forecast 5 min: after last_seen
    assert by["2"][s.DEPARTURE_ESTIMATE] == T0 + dt.timedelta(minutes=6)     # clamped to last_seen


def test_estimate_never_after_the_next_good_poll() -> None:
    """A stale forecast of +15 min is cut at the first good poll that no longer shows the train."""
    rows = [snap(HOLZ, t, "1", sched=T0 + dt.timedelta(minutes=4), delay_departure=15)
            for t in grid(T0, [0, 3])]
    polls = [poll(HOLZ, t) for t in grid(T0, [0, 3])] + [poll(HOLZ, T0 + dt.timedelta(minutes=6), "failed")]
    polls += [poll(HOLZ, t) for t in grid(T0, [9, 12])]
    (dep,), _ = both(rows, polls)
    assert dep[s.DEPARTURE_ESTIMATE] == T0 + dt.timedelta(minutes=9)


def test_failed_polls_are_no_evidence_of_absence() -> None:
    """10 minutes of failed polls inside a sighting sequence do not split it."""
    seen = grid(T0, [0, 3, 15, 18])
    polls = [poll(HOLZ, t) for t in seen] + [poll(HOLZ, t, "failed") for t in grid(T0, [6, 9, 12])]
    polls += [poll(HOLZ, t, "quarantined") for t in grid(T0, [21, 24])]
    polls += [poll(HOLZ, T0 + dt.timedelta(minutes=27))]
    (dep,), _ = both([snap(HOLZ, t, "7") for t in seen], polls)
    assert dep[s.FIRST_SEEN] == T0 and dep[s.N_POLLS] == 4


def test_no_good_poll_after_last_sighting_is_undecided() -> None:
    seen = grid(T0, [0, 3])
    polls = [poll(HOLZ, t) for t in seen] + [poll(HOLZ, t, "failed") for t in grid(T0, [6, 9, 12])]
    deps, counts = both([snap(HOLZ, t, "7") for t in seen], polls)
    assert deps == [] and counts["undecided"] == 1


def test_reappearance_departs_at_end_of_last_session() -> None:
    """Seen, absent from two good polls (6 min), seen again: two sessions; the last one counts."""
    seen = grid(T0, [0, 3, 12, 15])
    polls = [poll(HOLZ, t) for t in grid(T0, range(0, 30, 3))]
    (dep,), counts = both([snap(HOLZ, t, "7") for t in seen], polls)
    assert (dep[s.FIRST_SEEN], dep[s.LAST_SEEN], dep[s.N_POLLS]) == (seen[2], seen[3], 2)
    assert counts["dirty_groups"] == 1


def test_single_missed_poll_is_not_a_break() -> None:
    """Absent from one good poll only 3 min after the last sighting: still the same session."""
    seen = grid(T0, [0, 3, 9, 12])
    polls = [poll(HOLZ, t) for t in grid(T0, range(0, 30, 3))]
    (dep,), _ = both([snap(HOLZ, t, "7") for t in seen], polls)
    assert (dep[s.FIRST_SEEN], dep[s.N_POLLS]) == (T0, 4)


def test_duplicates_and_shuffled_rows() -> None:
    seen = grid(T0, [0, 3, 6, 9])
    rows = [snap(HOLZ, t, "7", delay_departure=i) for i, t in enumerate(seen)]
    rows += [rows[1], rows[3], snap(HOLZ, seen[3], "7", delay_departure=1)]  # exact and conflicting copies
    rows = rows[::-1]
    polls = [poll(HOLZ, t) for t in grid(T0, range(0, 30, 3))]
    (dep,), _ = both(rows, polls)
    assert dep[s.N_POLLS] == 4 and dep[s.DELAY_DEPARTURE] == 3  # the higher of the conflicting rows


def test_cancelled_has_no_departure_time() -> None:
    seen = grid(T0, [0, 3, 6])
    rows = [snap(HOLZ, t, "7", is_cancelled=i == 2) for i, t in enumerate(seen)]
    (dep,), _ = both(rows, [poll(HOLZ, t) for t in grid(T0, range(0, 30, 3))])
    assert dep[s.IS_CANCELLED] and dep[s.DEPARTURE_ESTIMATE] is None and dep[s.LAST_SEEN] == seen[2]


def test_platform_change_and_cut_short_destination() -> None:
    seen = grid(T0, [0, 3, 6])
    rows = [snap(HOLZ, seen[0], "7"), snap(HOLZ, seen[1], "7", platform="3"),
            snap(HOLZ, seen[2], "7", platform="3", destination="Dortmund Hbf")]
    rows += [snap(HOLZ, t, "8", platform=None) for t in seen]
    deps, _ = both(rows, [poll(HOLZ, t) for t in grid(T0, range(0, 30, 3))])
    by = {d[s.TRAIN_NUMBER]: d for d in deps}
    assert by["7"][s.PLATFORM_CHANGED] and not by["8"][s.PLATFORM_CHANGED]
    assert (by["7"][s.DESTINATION], by["7"][s.PLANNED_DESTINATION]) == ("Dortmund Hbf", "Krefeld Hbf")


def test_train_ending_here_is_not_a_departure() -> None:
    """No scheduled departure, or cut short so that the realtime destination is this station."""
    seen = grid(T0, [0, 3, 6])
    rows = [snap(HOLZ, t, "7", sched=None) for t in seen]
    rows += [snap(HOLZ, t, "8", destination=HOLZ if t == seen[-1] else "Krefeld Hbf") for t in seen]
    deps, counts = both(rows, [poll(HOLZ, t) for t in grid(T0, range(0, 30, 3))])
    assert deps == [] and counts["terminating"] == 2


@pytest.mark.parametrize("start", [
    dt.datetime(2025, 9, 1, 21, 50, tzinfo=UTC),    # across Berlin midnight (23:50 -> 00:20 CEST)
    dt.datetime(2025, 3, 30, 0, 50, tzinfo=UTC),    # across 02:00 CET -> 03:00 CEST (spring forward)
    dt.datetime(2025, 10, 26, 0, 50, tzinfo=UTC),   # across 03:00 CEST -> 02:00 CET (fall back)
])
def test_midnight_and_dst_crossings(start: dt.datetime) -> None:
    """Instants are UTC: a sequence across a local clock jump stays one session of 10 polls."""
    times = grid(start, range(0, 30, 3))
    day = dt.date(2025, 9, 1) if start.month == 9 else start.date() - dt.timedelta(days=1)
    rows = [snap("Köln Hbf", t, "2021", day=day, sched=times[-1]) for t in times]
    polls = [poll("Köln Hbf", t) for t in grid(start, range(0, 45, 3))]
    (dep,), _ = both(rows, polls)
    assert (dep[s.N_POLLS], dep[s.SERVICE_DATE], dep[s.LAST_SEEN]) == (10, day, times[-1])
    assert dep[s.DECIDED_AT] - dep[s.LAST_SEEN] == GAP + GRACE


def test_stations_and_service_dates_are_separate_groups() -> None:
    seen = grid(T0, [0, 3])
    rows = [snap(a, t, "7", day=d) for a in ("A", "B") for d in (T0.date(), T0.date() - dt.timedelta(days=1))
            for t in seen]
    polls = [poll(a, t) for a in ("A", "B") for t in grid(T0, range(0, 30, 3))]
    deps, _ = both(rows, polls)
    assert len(deps) == 4 and len({d[s.DEPARTURE_ID] for d in deps}) == 4


@pytest.mark.parametrize("n_polls", [127, 128, 129, 200])
def test_a_train_shown_for_hours_fills_every_bucket(n_polls: int) -> None:
    """A train on the board for 128+ polls (hours of delay) fills both 64-bit masks; found on the
    28-day default run, where counting the buckets overflowed DuckDB's TINYINT."""
    times = grid(T0, [3 * i for i in range(n_polls)])
    sched = times[-1] - dt.timedelta(minutes=1)
    polls = [poll(HOLZ, t) for t in grid(T0, range(0, 3 * n_polls + 30, 3))]
    (dep,), _ = both([snap(HOLZ, t, "7", sched=sched) for t in times], polls)
    assert (dep[s.FIRST_SEEN], dep[s.LAST_SEEN], dep[s.N_POLLS]) == (T0, times[-1], n_polls)
