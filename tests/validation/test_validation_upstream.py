"""The snapshot suite against what the real producers write: ingest's normalizer and the simulator."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pyarrow.parquet as pq
import pytest

from pipelines import schema as s
from pipelines.config import Params
from pipelines.sources.dbf.dbf import normalize_board
from pipelines.sources.simulate import run as simulate_run
from pipelines.storage import Layout
from pipelines.validation.gate import to_frame
from pipelines.validation.gx_adapter import validate
from pipelines.validation.suites import snapshot_suite
from pipelines.validation.validate_snapshots import with_row_key

pytestmark = pytest.mark.data

POLL = dt.datetime(2025, 9, 1, 10, 13, tzinfo=dt.UTC)   # 12:13 Berlin


def _record(train: str, number: str, arrival: str | None, departure: str | None, delay: int) -> dict:
    return {
        "train": train, "trainClasses": ["N"], "trainNumber": number, "destination": "Krefeld Hbf",
        "platform": "2", "scheduledPlatform": "1", "scheduledArrival": arrival,
        "scheduledDeparture": departure, "delayArrival": None if arrival is None else delay,
        "delayDeparture": None if departure is None else delay, "isCancelled": 0, "missingRealtime": False,
        "messages": {"delay": [], "qos": []}, "via": ["Dortmund Hbf"],
        "route": [{"name": "Unna"}, {"name": "Holzwickede"}, {"name": "Krefeld Hbf"}],
    }


def test_ingest_normalized_board_passes(params: Params) -> None:
    records = [_record("RE 7", "32557", "12:18", "12:19", 2), _record("ICE 1555", "1555", None, "12:40", 0),
               _record("S 1", "30123", "12:25", None, -1), _record("FLX 1802", "1802", "12:50", "12:52", 12)]
    body = json.dumps({"departures": records})
    table = normalize_board(body, "Holzwickede", POLL).table
    assert table.num_rows == 4 and table.schema == s.SNAPSHOT_SCHEMA
    result = validate(to_frame(with_row_key(table)), snapshot_suite(params.validation), s.ROW_ID)
    assert result.success, [o.name for o in result.outcomes if not o.success]
    broken = copy.deepcopy(records)
    broken[0]["delayDeparture"] = 700                      # a normalizer keeps it: the gate must not
    table = normalize_board(json.dumps({"departures": broken}), "Holzwickede", POLL).table
    result = validate(to_frame(with_row_key(table)), snapshot_suite(params.validation), s.ROW_ID)
    assert [o.name for o in result.outcomes if not o.success] == ["delay_departure_in_range"]


def test_simulated_hour_passes(params: Params, layout: Layout) -> None:
    start = dt.datetime(2025, 9, 1, 6, tzinfo=dt.UTC)          # day 1 of the calendar, 08:00 Berlin
    simulate_run(params, layout, start, start + dt.timedelta(hours=1), faults=True)
    table = pq.read_table(layout.hour_file("snapshots", start))
    assert table.num_rows > 0
    result = validate(to_frame(with_row_key(table)), snapshot_suite(params.validation), s.ROW_ID)
    assert result.success, {o.name: o.unexpected_count for o in result.outcomes if not o.success}
    assert not any(o.failing_ids for o in result.outcomes)      # the simulator writes clean rows
