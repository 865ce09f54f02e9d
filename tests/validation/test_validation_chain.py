"""The gates in the pipeline: snapshots -> validate_snapshots -> detect_departures -> build_features ->
validate_features, on a small hand-made board stream (the real downstream stages, not stand-ins)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_validation_samples import DAY, POLL_START, STATIONS, TRAINS

from pipelines import schema as s
from pipelines.config import Params
from pipelines.detection import detect_departures as detect
from pipelines.errors import StageError
from pipelines.features import build_features as build
from pipelines.storage import Layout, write_parquet
from pipelines.validation import validate_features, validate_snapshots

pytestmark = pytest.mark.integration

POLLS = 60                      # every 3 min, 06:00-09:00 UTC
TRAINS_PER_STATION = 8


def _visible(k: int, poll: dt.datetime) -> tuple[dt.datetime, int] | None:
    """(scheduled departure, delay) of train k if it is on the board at `poll`."""
    scheduled = POLL_START + dt.timedelta(minutes=30 + 15 * k)
    delay = k % 5
    shown = scheduled - dt.timedelta(minutes=60) <= poll < scheduled + dt.timedelta(minutes=delay)
    return (scheduled, delay) if shown else None


def board_stream() -> tuple[pa.Table, pa.Table]:
    """(snapshots, polls) of three stations whose trains appear, run late a little, and leave."""
    rows, polls = [], []
    for station_index, station in enumerate(STATIONS):
        for p in range(POLLS):
            poll = POLL_START + dt.timedelta(minutes=3 * p)
            seen = [(k, v) for k in range(TRAINS_PER_STATION) if (v := _visible(k, poll))]
            polls.append({s.STATION: station, s.POLL_TIME: poll, s.POLL_STATUS: "ok",
                          s.POLL_RECORDS: len(seen), s.POLL_REASON: None})
            for k, (scheduled, delay) in seen:
                train, category, classes = TRAINS[k % len(TRAINS)]
                rows.append({
                    s.STATION: station, s.POLL_TIME: poll, s.SERVICE_DATE: DAY, s.TRAIN: train,
                    s.CATEGORY: category, s.TRAIN_NUMBER: str(30000 + 100 * station_index + k),
                    s.TRAIN_CLASSES: classes, s.DESTINATION: "München Hbf", s.PLATFORM: "1",
                    s.SCHEDULED_PLATFORM: "1", s.SCHEDULED_ARRIVAL: scheduled - dt.timedelta(minutes=2),
                    s.SCHEDULED_DEPARTURE: scheduled, s.DELAY_ARRIVAL: delay, s.DELAY_DEPARTURE: delay,
                    s.IS_CANCELLED: False, s.MISSING_REALTIME: False, s.REASON_CODES: "",
                    s.ROUTE: f"Köln Hbf|{station}|München Hbf", s.CANCELLED_STOPS: "",
                    s.ADDITIONAL_STOPS: "", s.VIA: "München Hbf",
                })
    snapshots = pa.Table.from_pylist(rows, schema=s.SNAPSHOT_SCHEMA)
    return snapshots, pa.Table.from_pylist(polls, schema=s.POLLS_SCHEMA)


def _store(layout: Layout, snapshots: pa.Table, polls: pa.Table) -> None:
    for hour in range(3):
        start = POLL_START + dt.timedelta(hours=hour)
        for name, table in (("snapshots", snapshots), ("polls", polls)):
            rows = [r for r in table.to_pylist() if start <= r[s.POLL_TIME] < start + dt.timedelta(hours=1)]
            write_parquet(pa.Table.from_pylist(rows, schema=table.schema), layout.hour_file(name, start))


def test_validated_day_flows_through_detection_and_features(params: Params, layout: Layout) -> None:
    snapshots, polls = board_stream()
    bad_index = 5
    delays = snapshots[s.DELAY_DEPARTURE].to_pylist()
    delays[bad_index] = 999                               # one poll of one train: quarantined, not fatal
    index = snapshots.schema.get_field_index(s.DELAY_DEPARTURE)
    snapshots = snapshots.set_column(index, s.DELAY_DEPARTURE, pa.array(delays, pa.int16()))
    _store(layout, snapshots, polls)

    with pytest.raises(StageError):
        detect.run(params, layout, DAY)                   # refuses before validation has passed
    gate = validate_snapshots.run(params, layout, DAY)
    assert gate["verdict"] == "passed" and gate["failing_rows"] == 1
    detected = detect.run(params, layout, DAY)
    assert detected["n_quarantined_keys"] == 1
    assert detected["n_departures"] == len(STATIONS) * TRAINS_PER_STATION
    build.run(params, layout, DAY)
    features = pq.read_table(layout.day_file("features", DAY))
    assert features.num_rows == detected["n_departures"]
    result = validate_features.run(params, layout, DAY)  # the real feature table passes its suite
    assert result["verdict"] == "passed", result
