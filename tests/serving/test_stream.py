"""The live stream's files: appends, the merge of small files, and what readers see across it."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from pipelines import schema as s
from pipelines.serving import stream

pytestmark = pytest.mark.integration

DAY = dt.date(2025, 9, 2)
T0 = dt.datetime(2025, 9, 2, 6, tzinfo=dt.UTC)


def rows(i: int, departure: str, status: str = "live") -> pa.Table:
    return pa.Table.from_pylist([{
        s.PREDICTION_ID: f"p{i}", s.DEPARTURE_ID: departure, s.SERVICE_DATE: DAY, s.STATION: "A",
        s.TRAIN_NUMBER: departure, s.TRAIN: "RE 1", s.T_PRED: T0 + dt.timedelta(minutes=i),
        s.DECIDED_AT: T0 + dt.timedelta(minutes=i + 7), s.ROLE: "champion", s.MODEL_VERSION: "1",
        s.PREDICTION: float(i), s.LIVE_STATUS: status}], schema=s.LIVE_SCHEMA)


def test_small_files_merge_into_one_and_readers_see_the_same_latest_rows(layout, monkeypatch) -> None:
    monkeypatch.setattr(stream, "MERGE_AT", 6)
    view = stream.StreamView(layout)
    for i in range(5):   # d0 predicted, revised twice; d1 predicted then withdrawn; d2 once
        departure = ["d0", "d1", "d0", "d1", "d2"][i]
        status = ["live", "live", "live", "withdrawn", "live"][i]
        stream.append(layout, rows(i, departure, status), T0 + dt.timedelta(seconds=i))
    before = stream.latest(stream.read_day(layout, DAY))
    assert before[s.DEPARTURE_ID].to_pylist() == ["d0", "d2"]
    assert before[s.PREDICTION].to_pylist() == [2.0, 4.0]
    assert view.day(DAY).equals(before)
    assert stream.merge_small_files(layout, DAY) == 0                 # not yet MERGE_AT files
    stream.append(layout, rows(5, "d0"), T0 + dt.timedelta(seconds=5))
    assert stream.merge_small_files(layout, DAY) == 6
    stream.append(layout, rows(6, "d2"), T0 + dt.timedelta(seconds=6))
    names = sorted(f.name for f in stream.day_folder(layout, DAY).glob("*.parquet"))
    assert len(names) == 2 and stream.MERGED in names[0]              # the merge sorts before later files
    after = stream.latest(stream.read_day(layout, DAY))
    assert after[s.PREDICTION].to_pylist() == [5.0, 6.0]
    assert view.day(DAY).equals(after)                                # the API's view notices the merge
    assert stream.read_day(layout, DAY).num_rows == 7                 # nothing lost, nothing twice
