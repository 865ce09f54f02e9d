"""A hand-built service date for the build_features tests: boards at A, B and C, every value known.

Service date D = 2025-09-01 (Monday, Berlin = UTC+2). Times below are UTC.
- RE 7 / 100, route A|B|C, dep A 07:58, arr C 09:00: seen at A at 07:54, 07:57, 08:00 (delays 1, 2, 4;
  last row platform 5 of 4, reasons "43,31"); C shows it at 07:57 (arr delay 3), 08:03 (5), 09:06 (7).
- RE 7 / 102, route A|B|C, dep A 07:28: seen at A at 07:30, 07:33 (delays 10, 12); C never shows it on D,
  but showed it on D-1 with a scheduled arrival of 08:30 (the learned timetable).
- RB 3 / 300, route A|X, dep A 07:45: seen at A at 07:45 (delay 0); X is not polled.
- ICE 500, route A|B|C, cut short at B: seen at A at 07:51 (delay 20, destination B); C shows it cancelled.
- RE 7 / 600: cancelled at A.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa

from pipelines import schema as s
from pipelines.detection.ids import departure_id
from pipelines.storage import Layout, write_parquet
from pipelines.timeutil import UTC

DAY = dt.date(2025, 9, 1)
ROUTE = "A|B|C"


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    """A UTC instant on `day` from 'HH:MM'."""
    h, m = map(int, hhmm.split(":"))
    return dt.datetime(day.year, day.month, day.day, h, m, tzinfo=UTC)


def snap(station: str, poll: str, train: str, number: str, *, route: str = ROUTE, dep: str | None = None,
         arr: str | None = None, delay_dep: int | None = None, delay_arr: int | None = None,
         destination: str | None = None, cancelled: bool = False, platform: str = "4",
         reasons: str = "", cancelled_stops: str = "", day: dt.date = DAY) -> dict[str, Any]:
    """One snapshot row following SNAPSHOT_SCHEMA."""
    category = train.split()[0]
    return {s.STATION: station, s.POLL_TIME: at(poll, day), s.SERVICE_DATE: day, s.TRAIN: train,
            s.CATEGORY: category, s.TRAIN_NUMBER: number, s.TRAIN_CLASSES: "N",
            s.DESTINATION: destination or route.split("|")[-1], s.PLATFORM: platform,
            s.SCHEDULED_PLATFORM: "4", s.SCHEDULED_ARRIVAL: at(arr, day) if arr else None,
            s.SCHEDULED_DEPARTURE: at(dep, day) if dep else None, s.DELAY_ARRIVAL: delay_arr,
            s.DELAY_DEPARTURE: delay_dep, s.IS_CANCELLED: cancelled, s.MISSING_REALTIME: False,
            s.REASON_CODES: reasons, s.ROUTE: route, s.CANCELLED_STOPS: cancelled_stops,
            s.ADDITIONAL_STOPS: "", s.VIA: ""}


def snapshot_rows() -> list[dict[str, Any]]:
    """The snapshot rows of service date D."""
    re7 = "RE 7"
    return [
        snap("A", "07:54", re7, "100", dep="07:58", delay_dep=1),
        snap("A", "07:57", re7, "100", dep="07:58", delay_dep=2, reasons="43"),
        snap("A", "08:00", re7, "100", dep="07:58", delay_dep=4, platform="5", reasons="43,31"),
        snap("C", "07:57", re7, "100", arr="09:00", delay_arr=3),
        snap("C", "08:03", re7, "100", arr="09:00", delay_arr=5),
        snap("C", "09:06", re7, "100", arr="09:00", delay_arr=7),
        snap("A", "07:30", re7, "102", dep="07:28", delay_dep=10),
        snap("A", "07:33", re7, "102", dep="07:28", delay_dep=12),
        snap("A", "07:45", "RB 3", "300", route="A|X", dep="07:45", delay_dep=0),
        snap("A", "07:51", "ICE 500", "500", dep="07:40", delay_dep=20, destination="B", cancelled_stops="C"),
        snap("C", "07:51", "ICE 500", "500", arr="08:40", delay_arr=0, cancelled=True),
        snap("A", "07:50", re7, "600", dep="07:50", delay_dep=0, cancelled=True),
    ]


def previous_day_rows() -> list[dict[str, Any]]:
    """D-1: the destination board showed RE 7 / 102 with a scheduled arrival at 08:30 UTC."""
    prev = DAY - dt.timedelta(days=1)
    return [snap("C", "08:20", "RE 7", "102", arr="08:30", delay_arr=1, day=prev)]


def departure(number: str, train: str, scheduled: str, last_seen: str, delay: int, *, route: str = ROUTE,
              destination: str | None = None, cancelled: bool = False,
              changed: bool = False) -> dict[str, Any]:
    """One departures row from station A following DEPARTURES_SCHEMA."""
    return {s.DEPARTURE_ID: departure_id(DAY, number, "A"), s.STATION: "A", s.SERVICE_DATE: DAY,
            s.TRAIN_NUMBER: number, s.TRAIN: train, s.CATEGORY: train.split()[0],
            s.DESTINATION: destination or route.split("|")[-1], s.PLANNED_DESTINATION: route.split("|")[-1],
            s.ROUTE: route, s.SCHEDULED_DEPARTURE: at(scheduled), s.FIRST_SEEN: at(last_seen),
            s.LAST_SEEN: at(last_seen), s.N_POLLS: 1, s.DELAY_DEPARTURE: delay,
            s.DEPARTURE_ESTIMATE: at(last_seen), s.IS_CANCELLED: cancelled, s.PLATFORM_CHANGED: changed,
            s.DECIDED_AT: at(last_seen) + dt.timedelta(minutes=7)}


def departure_rows() -> list[dict[str, Any]]:
    """The departures of D from A (as detect_departures would decide them)."""
    return [departure("100", "RE 7", "07:58", "08:00", 4, changed=True),
            departure("102", "RE 7", "07:28", "07:33", 12),
            departure("300", "RB 3", "07:45", "07:45", 0, route="A|X"),
            departure("500", "ICE 500", "07:40", "07:51", 20, destination="B"),
            departure("600", "RE 7", "07:50", "07:50", 0, cancelled=True)]


def snapshots_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as the pandas frame the stage reads (Arrow types of SNAPSHOT_SCHEMA)."""
    return pa.Table.from_pylist(rows, schema=s.SNAPSHOT_SCHEMA).to_pandas()


def departures_frame(rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """Departures as the pandas frame the stage reads."""
    return pa.Table.from_pylist(rows or departure_rows(), schema=s.DEPARTURES_SCHEMA).to_pandas()


def write_scenario(layout: Layout) -> None:
    """Snapshot hours, polls (A, B, C ok every 3 minutes) and departures of D under `layout`."""
    rows = snapshot_rows() + previous_day_rows()
    by_hour: dict[dt.datetime, list[dict[str, Any]]] = {}
    for row in rows:
        by_hour.setdefault(row[s.POLL_TIME].replace(minute=0), []).append(row)
    for hour, hour_rows in by_hour.items():
        hour_rows.sort(key=lambda r: (r[s.STATION], r[s.POLL_TIME], r[s.SERVICE_DATE], r[s.TRAIN_NUMBER]))
        write_parquet(pa.Table.from_pylist(hour_rows, schema=s.SNAPSHOT_SCHEMA),
                      layout.hour_file("snapshots", hour))
    for hour in (at("07:00"), at("08:00"), at("09:00")):
        polls = [{s.STATION: st, s.POLL_TIME: hour + dt.timedelta(minutes=m), s.POLL_STATUS: "ok",
                  s.POLL_RECORDS: 1, s.POLL_REASON: None} for st in "ABC" for m in range(0, 60, 3)]
        write_parquet(pa.Table.from_pylist(polls, schema=s.POLLS_SCHEMA), layout.hour_file("polls", hour))
    write_parquet(pa.Table.from_pylist(departure_rows(), schema=s.DEPARTURES_SCHEMA),
                  layout.day_file("departures", DAY))
