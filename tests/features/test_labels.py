"""Labels: the last arrival delay shown at the destination, unlabelable trains, and the as-of join."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from pipelines import schema as s
from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.detection.ids import departure_id
from pipelines.features.frame import prediction_rows
from pipelines.features.labels import extract_labels
from pipelines.modeling.training_rows import read_training_frame
from pipelines.storage import Layout, write_parquet
from pipelines.validation import validate_features
from tests.features_scenario import DAY, at, departure, departures_frame, snap, snapshot_rows, snapshots_frame

pytestmark = pytest.mark.unit

POLLED = {"A", "B", "C"}
HOUR = dt.timedelta(hours=1)


def labels_of(params: Params, rows: list[dict], deps: list[dict] | None = None) -> pd.DataFrame:
    live = prediction_rows(departures_frame(deps))
    labels = extract_labels(live, snapshots_frame(rows), POLLED, params, close_time(params, DAY))
    return labels.merge(live[[s.DEPARTURE_ID, s.TRAIN_NUMBER]]).set_index(s.TRAIN_NUMBER)


def test_label_is_last_arrival_delay_shown(params: Params) -> None:
    labels = labels_of(params, snapshot_rows())
    row = labels.loc["100"]
    assert (row[s.LABEL], row[s.LABEL_STATUS]) == (7, "labeled") and row[s.LABEL_REASON] is None
    assert row[s.LABELED_AT] == pd.Timestamp(at("09:06") + dt.timedelta(minutes=7))  # + gap 5 + grace 2


def test_null_delay_on_last_row_keeps_last_shown_value(params: Params) -> None:
    rows = snapshot_rows() + [snap("C", "09:09", "RE 7", "100", arr="09:00", delay_arr=None)]
    row = labels_of(params, rows).loc["100"]
    assert row[s.LABEL] == 7 and row[s.LABELED_AT] == pd.Timestamp(at("09:16"))


def test_unlabelable_reasons(params: Params) -> None:
    labels = labels_of(params, snapshot_rows())
    reasons = labels[s.LABEL_REASON].to_dict()
    assert reasons == {"100": None, "102": "not_seen_at_destination", "300": "destination_not_polled",
                       "500": "cut_short"}
    assert "600" not in labels.index                       # cancelled here: no features, no label
    unlabelable = labels[labels[s.LABEL_STATUS] == "unlabelable"]
    assert unlabelable[s.LABEL].isna().all()
    wait = pd.Timedelta(hours=params.features.label_max_wait_hours)
    assert labels.loc["300", s.LABELED_AT] == pd.Timestamp(at("07:45")) + wait


def test_cut_short_seen_only_at_destination(params: Params) -> None:
    """The train left A bound for C, then was cut short: C's board shows it ending at B."""
    rows = [snap("A", "07:54", "RE 7", "100", dep="07:58", delay_dep=1),
            snap("C", "08:30", "RE 7", "100", arr="09:00", delay_arr=40, destination="B")]
    deps = [departure("100", "RE 7", "07:58", "07:54", 1)]
    assert labels_of(params, rows, deps).loc["100", s.LABEL_REASON] == "cut_short"


def test_cancelled_at_destination(params: Params) -> None:
    rows = [snap("A", "07:54", "RE 7", "100", dep="07:58", delay_dep=1),
            snap("C", "08:30", "RE 7", "100", arr="09:00", delay_arr=0, cancelled=True)]
    deps = [departure("100", "RE 7", "07:58", "07:54", 1)]
    assert labels_of(params, rows, deps).loc["100", s.LABEL_REASON] == "cancelled_at_destination"


def test_unlabelable_known_no_later_than_close(params: Params) -> None:
    late = [departure("900", "RE 7", "23:00", "23:00", 0, route="A|X")]
    label = labels_of(params, [], late).loc["900"]
    assert label[s.LABELED_AT] == pd.Timestamp(close_time(params, DAY))


def _write_partitions(params: Params, layout: Layout, close: dt.datetime) -> None:
    ids = [departure_id(DAY, n, "A") for n in ("1", "2", "3")]
    features = pd.DataFrame({c: [None] * 3 for c in s.FEATURES_SCHEMA.names})
    features[s.DEPARTURE_ID], features[s.SERVICE_DATE] = ids, DAY
    features[s.T_PRED] = pd.Timestamp(at("08:00"))
    features[s.TRAIN_NUMBER] = ["1", "2", "3"]
    write_parquet(pa.Table.from_pandas(features, schema=s.FEATURES_SCHEMA, preserve_index=False),
                  layout.day_file("features", DAY))
    labels = pd.DataFrame({s.DEPARTURE_ID: ids, s.LABEL: [3.0, 8.0, None],
                           s.LABELED_AT: [close - HOUR, close + HOUR, close],
                           s.LABEL_STATUS: ["labeled", "labeled", "unlabelable"],
                           s.LABEL_REASON: [None, None, "cut_short"]})
    write_parquet(pa.Table.from_pandas(labels, schema=s.LABELS_SCHEMA, preserve_index=False),
                  layout.day_file("labels", DAY))
    validate_features.run(params, layout, DAY)   # training reads only batches the gate passed


@pytest.mark.parametrize(("shift_h", "numbers", "not_yet"),
                         [(-0.5, [], 0), (0, ["1"], 1), (2, ["1", "2"], 0)])
def test_as_of_join_sees_only_labels_known_then(params: Params, layout: Layout, shift_h: float,
                                                numbers: list[str], not_yet: int) -> None:
    close = close_time(params, DAY)
    _write_partitions(params, layout, close)
    frame = read_training_frame(params, layout, [DAY], close + dt.timedelta(hours=shift_h))
    assert frame[s.TRAIN_NUMBER].tolist() == numbers          # before close the day is not usable at all
    assert frame[s.LABEL].tolist() == [3.0, 8.0][:len(numbers)]
    if numbers:
        assert frame.attrs["counts"]["unlabelable"] == 1 and frame.attrs["counts"]["not_yet_known"] == not_yet
