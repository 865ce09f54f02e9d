"""Hand-built valid batches (snapshots, features) shared by the validation tests, and checks of them."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines import schema as s
from pipelines.detection.ids import departure_id

pytestmark = pytest.mark.data

DAY = dt.date(2025, 9, 1)
POLL_START = dt.datetime(2025, 9, 1, 6, 0, tzinfo=dt.UTC)   # 08:00 Berlin
TRAINS = [("ICE 1555", "ICE", "F"), ("RE 7", "RE", "N"), ("S 1", "S", "S"), ("RB 48", "RB", "N"),
          ("IC 2024", "IC", "F"), ("FLX 10", "OTHER", "D")]
STATIONS = ["Köln Hbf", "Hamm (Westf) Hbf", "Dortmund Hbf"]


def _snapshot_row(station: str, poll: dt.datetime, k: int) -> dict:
    train, category, classes = TRAINS[k % len(TRAINS)]
    number = str(10000 + k)
    scheduled = POLL_START + dt.timedelta(minutes=20 + 7 * k)
    origin, terminus = k % 5 == 0, k % 7 == 3     # no arrival at an origin, no departure at a terminus
    delay = (k * 3) % 25 - 1
    return {
        s.STATION: station, s.POLL_TIME: poll, s.SERVICE_DATE: DAY, s.TRAIN: train, s.CATEGORY: category,
        s.TRAIN_NUMBER: number, s.TRAIN_CLASSES: classes, s.DESTINATION: "München Hbf",
        s.PLATFORM: str(1 + k % 9), s.SCHEDULED_PLATFORM: str(1 + k % 9),
        s.SCHEDULED_ARRIVAL: None if origin else scheduled - dt.timedelta(minutes=2),
        s.SCHEDULED_DEPARTURE: None if terminus else scheduled,
        s.DELAY_ARRIVAL: None if origin else delay, s.DELAY_DEPARTURE: None if terminus else delay,
        s.IS_CANCELLED: False, s.MISSING_REALTIME: k % 11 == 0, s.REASON_CODES: "43" if delay > 5 else "",
        s.ROUTE: f"Köln Hbf|{station}|München Hbf", s.CANCELLED_STOPS: "", s.ADDITIONAL_STOPS: "",
        s.VIA: "München Hbf",
    }


def good_snapshots(stations: int = 3, polls: int = 10, trains: int = 12) -> pa.Table:
    """A valid snapshots batch of service date DAY: stations x polls x trains rows, sorted by key."""
    rows = [_snapshot_row(station, POLL_START + dt.timedelta(minutes=3 * p), k)
            for station in STATIONS[:stations] for p in range(polls) for k in range(trains)]
    table = pa.Table.from_pylist(rows, schema=s.SNAPSHOT_SCHEMA)
    order = [(c, "ascending") for c in (s.STATION, s.POLL_TIME, s.SERVICE_DATE, s.TRAIN_NUMBER)]
    return table.take(pc.sort_indices(table, sort_keys=order))


def good_features(rows: int = 40) -> pa.Table:
    """A valid features batch of service date DAY, one row per departure."""
    data: dict[str, list] = {c: [] for c in (s.DEPARTURE_ID, s.SERVICE_DATE, s.T_PRED, *s.FEATURES,
                                             *s.BASELINES)}
    for k in range(rows):
        station, (train, category, _) = STATIONS[k % 3], TRAINS[k % len(TRAINS)]
        delay = None if k % 13 == 5 else float(k % 17)
        values = {
            s.DEPARTURE_ID: departure_id(DAY, str(20000 + k), station), s.SERVICE_DATE: DAY,
            s.T_PRED: POLL_START + dt.timedelta(minutes=k), s.DELAY_AT_PRED: delay,
            s.REMAINING_SCHED_MIN: 30.0 + k, s.REMAINING_STOPS: float(k % 6), s.HOUR: k % 24,
            s.WEEKDAY: k % 7, s.DELAY_TREND: 0.1 * (k % 3), s.LATE_VS_SCHEDULE_MIN: -5.0,
            s.PLATFORM_CHANGE: k % 2, s.N_REASONS: k % 3, s.LINE_RECENT_DELAY: 2.5,
            s.STATION_RECENT_DELAY: 1.5, s.DEST_BOARD_FORECAST: None if k % 4 else 3.0, s.CATEGORY: category,
            s.LINE: train, s.STATION: station, s.PLANNED_DESTINATION: "München Hbf",
            s.CORRIDOR: "Rhein-Ruhr", s.REASON_CODE: "none",
        }
        for b in s.BASELINES:
            values[b] = None if delay is None else delay + 1.0
        for column, value in values.items():
            data[column].append(value)
    types = {s.SERVICE_DATE: pa.date32(), s.T_PRED: s.TS, s.HOUR: pa.int64(), s.WEEKDAY: pa.int64()}
    return pa.table({c: pa.array(v, types.get(c)) for c, v in data.items()})


def test_good_snapshots_follow_the_schema() -> None:
    table = good_snapshots()
    assert table.schema == s.SNAPSHOT_SCHEMA
    keys = table.select(list(s.SNAPSHOT_KEY)).to_pylist()
    assert len({tuple(k.values()) for k in keys}) == table.num_rows == 360
    nulls = pc.is_null(table[s.DELAY_DEPARTURE])
    assert pc.all(pc.equal(nulls, pc.is_null(table[s.SCHEDULED_DEPARTURE]))).as_py()
    assert pc.sum(nulls).as_py() > 0          # the pairing rule is exercised, not vacuous


def test_good_features_cover_every_feature_column() -> None:
    table = good_features()
    assert set(s.FEATURES) | set(s.BASELINES) <= set(table.column_names)
    assert pc.count_distinct(table[s.DEPARTURE_ID]).as_py() == table.num_rows
