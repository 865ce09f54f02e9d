"""No feature may use a snapshot polled after the departure's prediction point t_pred."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.config import Params
from pipelines.features.context import OFFSET_MIN, learn_timetable
from pipelines.features.frame import build_frame
from tests.features_scenario import DAY, departures_frame, snap, snapshot_rows, snapshots_frame

pytestmark = pytest.mark.unit

TIMETABLE = pd.DataFrame({s.TRAIN_NUMBER: ["102"], s.STATION: ["C"], OFFSET_MIN: [630.0]})


def future_rows() -> list[dict]:
    """Rows after every t_pred (the latest is 08:00): later polls that must change nothing."""
    return [snap("A", "08:30", "RE 7", "104", dep="08:28", delay_dep=45),
            snap("A", "09:00", "RB 3", "302", route="A|X", dep="09:00", delay_dep=30),
            snap("C", "09:30", "RE 7", "102", arr="08:30", delay_arr=9)]


def test_features_equal_rebuild_from_snapshots_cut_at_t_pred(params: Params) -> None:
    departures = departures_frame()
    snaps = snapshots_frame(snapshot_rows() + future_rows())
    full = build_frame(departures, snaps, TIMETABLE, DAY, params.features).set_index(s.DEPARTURE_ID)
    assert len(full) == 4
    for dep_id, row in full.iterrows():
        cut = snaps[snaps[s.POLL_TIME] <= row[s.T_PRED]]
        alone = departures[departures[s.DEPARTURE_ID] == dep_id]
        rebuilt = build_frame(alone, cut, TIMETABLE, DAY, params.features).set_index(s.DEPARTURE_ID)
        pd.testing.assert_series_equal(rebuilt.loc[dep_id], row, check_names=False)


@pytest.mark.parametrize("shift", [-30, 60])
def test_changing_the_future_changes_no_feature(params: Params, shift: int) -> None:
    departures = departures_frame()
    snaps = snapshots_frame(snapshot_rows() + future_rows())
    base = build_frame(departures, snaps, TIMETABLE, DAY, params.features)
    later = snaps[s.POLL_TIME] > departures[s.LAST_SEEN].max()   # after every departure's t_pred
    assert later.sum() == 5                                 # C's 08:03 and 09:06 rows of 100, the future rows
    moved = snaps.copy()
    moved.loc[later, s.DELAY_ARRIVAL] = moved.loc[later, s.DELAY_ARRIVAL] + shift
    moved.loc[later, s.DELAY_DEPARTURE] = moved.loc[later, s.DELAY_DEPARTURE] + shift
    pd.testing.assert_frame_equal(build_frame(departures, moved, TIMETABLE, DAY, params.features), base)


def test_timetable_is_learned_from_earlier_days_only() -> None:
    rows = snapshots_frame([snap("C", "08:20", "RE 7", "102", arr="08:30", day=DAY - dt.timedelta(days=2)),
                            snap("C", "08:20", "RE 7", "102", arr="08:40", day=DAY - dt.timedelta(days=1))])
    table = learn_timetable(rows)
    assert table[OFFSET_MIN].tolist() == [640.0]        # newest service date wins: 10:40 Berlin
