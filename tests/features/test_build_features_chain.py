"""Integration: the hand-built boards through validate_snapshots, detect_departures and build_features.

The simulator's bulk path did not exist when this was written; this chain checks the contract between
the real upstream stages and build_features on the scenario of features_scenario.py instead.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.config import Params
from pipelines.detection import detect_departures
from pipelines.features import build_features
from pipelines.storage import Layout
from pipelines.validation import validate_snapshots
from tests.features_scenario import DAY, departures_frame, write_scenario

pytestmark = pytest.mark.integration


def test_detected_departures_give_the_hand_computed_features(params: Params, layout: Layout) -> None:
    write_scenario(layout)
    layout.day_file("departures", DAY).unlink()            # let detection decide them instead
    validate_snapshots.run(params, layout, DAY)
    detected = detect_departures.run(params, layout, DAY)
    result = build_features.run(params, layout, DAY)
    assert (detected["n_departures"], result["n_featured"], result["n_labeled"]) == (5, 4, 1)
    frame = pd.read_parquet(layout.day_file("features", DAY)).set_index(s.TRAIN_NUMBER)
    hand = departures_frame().set_index(s.TRAIN_NUMBER)
    assert (frame[s.T_PRED] == hand.loc[frame.index, s.LAST_SEEN]).all()
    row = frame.loc["100"]
    assert (row[s.DELAY_AT_PRED], row[s.DEST_BOARD_FORECAST], row[s.REMAINING_SCHED_MIN]) == (4, 3, 62)
    labels = pd.read_parquet(layout.day_file("labels", DAY)).set_index(s.DEPARTURE_ID)
    assert labels.loc[row[s.DEPARTURE_ID], s.LABEL] == 7
