"""Dateless HH:MM board times resolved to UTC instants: DST days and midnight crossings."""

from __future__ import annotations

import datetime as dt

import pytest
from test_ingest_fixtures import board, dep

from pipelines import schema as s
from pipelines.sources.dbf.dbf import normalize_board
from pipelines.sources.dbf.localtime import parse_hhmm, resolve_local_time
from pipelines.timeutil import BERLIN

pytestmark = pytest.mark.unit

UTC = dt.UTC


def z(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def resolve(hhmm: str, delay: int | None, poll: dt.datetime) -> dt.datetime:
    return resolve_local_time(parse_hhmm(hhmm), delay, poll)


@pytest.mark.parametrize(
    ("hhmm", "delay", "poll", "expected"),
    [
        # midnight crossings (2025-09-01, CEST = UTC+2)
        ("00:05", 0, z(2025, 9, 1, 21, 55), z(2025, 9, 1, 22, 5)),  # polled 23:55, leaves 00:05 next day
        ("23:50", 25, z(2025, 9, 1, 22, 10), z(2025, 9, 1, 21, 50)),  # polled 00:10, late train of yesterday
        ("22:40", 115, z(2025, 9, 1, 22, 30), z(2025, 9, 1, 20, 40)),  # two hours late, still on the board
        ("05:00", 0, z(2025, 9, 1, 21, 55), z(2025, 9, 2, 3, 0)),
        ("23:59", -2, z(2025, 9, 1, 21, 57), z(2025, 9, 1, 21, 59)),  # early trains exist too
        # spring forward 2025-03-30: 02:00 CET jumps to 03:00 CEST (01:00Z)
        ("01:55", 0, z(2025, 3, 30, 0, 50), z(2025, 3, 30, 0, 55)),  # CET
        ("03:10", 0, z(2025, 3, 30, 0, 50), z(2025, 3, 30, 1, 10)),  # CEST, 20 min after the poll
        ("01:58", 70, z(2025, 3, 30, 1, 5), z(2025, 3, 30, 0, 58)),  # late across the jump
        # fall back 2025-10-26: 03:00 CEST returns to 02:00 CET (01:00Z); 02:xx happens twice
        ("02:30", 0, z(2025, 10, 26, 0, 20), z(2025, 10, 26, 0, 30)),  # first 02:30 (CEST)
        ("02:30", 0, z(2025, 10, 26, 1, 20), z(2025, 10, 26, 1, 30)),  # second 02:30 (CET)
        ("02:10", 15, z(2025, 10, 26, 1, 20), z(2025, 10, 26, 1, 10)),  # second 02:10 + 15 is nearest
        ("01:50", 0, z(2025, 10, 26, 1, 20), z(2025, 10, 25, 23, 50)),  # before the change, CEST
        ("03:05", 0, z(2025, 10, 26, 1, 55), z(2025, 10, 26, 2, 5)),  # after the change, CET
    ],
)
def test_resolution_picks_the_instant_nearest_the_poll(hhmm, delay, poll, expected) -> None:
    assert resolve(hhmm, delay, poll) == expected


def test_nonexistent_spring_time_resolves_without_error_to_the_nearer_reading() -> None:
    # 02:30 does not exist on 2025-03-30; both readings (00:30Z, 01:30Z) are candidates.
    assert resolve("02:30", 0, z(2025, 3, 30, 0, 20)) == z(2025, 3, 30, 0, 30)
    assert resolve("02:30", 0, z(2025, 3, 30, 1, 25)) == z(2025, 3, 30, 1, 30)


def test_resolved_instant_reads_back_as_the_board_time() -> None:
    poll = z(2025, 10, 26, 0, 0)
    for minute in range(0, 24 * 60, 7):
        hhmm = f"{minute // 60:02d}:{minute % 60:02d}"
        got = resolve(hhmm, 0, poll)
        assert got.astimezone(BERLIN).strftime("%H:%M") == hhmm
        assert abs(got - poll) <= dt.timedelta(hours=13)


@pytest.mark.parametrize(
    ("poll", "dep_time", "delay", "service_date"),
    [
        (z(2025, 9, 1, 21, 55), "00:05", 0, dt.date(2025, 9, 1)),  # 00:05 local belongs to yesterday
        (z(2025, 9, 2, 1, 50), "04:00", 0, dt.date(2025, 9, 2)),  # 04:00 starts the service day
        (z(2025, 9, 2, 1, 50), "03:59", 0, dt.date(2025, 9, 1)),
        (z(2025, 3, 30, 0, 50), "03:10", 0, dt.date(2025, 3, 29)),  # short night
        (z(2025, 10, 26, 1, 20), "02:30", 0, dt.date(2025, 10, 25)),  # long night, second 02:30
        (z(2025, 10, 26, 3, 20), "04:30", 0, dt.date(2025, 10, 26)),
    ],
)
def test_service_date_of_rows(poll, dep_time, delay, service_date) -> None:
    body = board(
        dep(scheduledArrival=None, delayArrival=None, scheduledDeparture=dep_time, delayDeparture=delay)
    )
    table = normalize_board(body, "Hamm", poll).table
    assert table[s.SERVICE_DATE].to_pylist() == [service_date]


def test_arrival_and_departure_on_both_sides_of_midnight_share_a_service_date() -> None:
    body = board(dep(scheduledArrival="23:58", delayArrival=3, scheduledDeparture="00:02", delayDeparture=3))
    row = normalize_board(body, "Hamm", z(2025, 9, 1, 21, 59)).table.to_pylist()[0]
    assert row[s.SCHEDULED_ARRIVAL] == z(2025, 9, 1, 21, 58)
    assert row[s.SCHEDULED_DEPARTURE] == z(2025, 9, 1, 22, 2)
    assert row[s.SERVICE_DATE] == dt.date(2025, 9, 1)


@pytest.mark.parametrize("text", ["24:00", "7:05", "07:5", "0705", "07:05:00", " 07:05", "", "ab:cd"])
def test_malformed_clock_texts_are_not_times(text: str) -> None:
    assert parse_hhmm(text) is None
