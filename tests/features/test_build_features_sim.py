"""Integration over two simulated days: simulate -> validate_snapshots -> detect_departures -> build_features.

To stay fast the simulator's truth is cut to the runs of a few corridors, and only their stations are polled.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.detection import detect_departures
from pipelines.features import build_features
from pipelines.features.context import learn_timetable
from pipelines.features.frame import build_frame
from pipelines.modeling.training_rows import read_training_frame
from pipelines.sources import simulate
from pipelines.sources.simulator.source import frame_source, network_source
from pipelines.storage import Layout
from pipelines.timeutil import local_midnight_utc
from pipelines.validation import validate_features, validate_snapshots

pytestmark = pytest.mark.integration

D1 = dt.date(2025, 9, 1)
D2 = D1 + dt.timedelta(days=1)
N_CORRIDORS = 3


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Params, Layout, dict]:
    from pipelines.config import load_params

    params = load_params()
    layout = Layout(params, tmp_path_factory.mktemp("sim"))
    full = network_source(params)
    truth = pd.concat([full.day(D1), full.day(D2)], ignore_index=True)
    corridors = sorted(truth[s.CORRIDOR].unique())[:N_CORRIDORS]
    truth = truth[truth[s.CORRIDOR].isin(corridors)].reset_index(drop=True)
    source = frame_source(truth, params.simulation.board_lookahead_min, sorted(truth[s.STATION].unique()))
    simulate.run(params, layout, local_midnight_utc(D1), close_time(params, D2), source=source)
    results = {}
    for day in (D1, D2):
        validate_snapshots.run(params, layout, day)
        detect_departures.run(params, layout, day)
        results[day] = build_features.run(params, layout, day)
        validate_features.run(params, layout, day)   # training reads only batches the gate passed
    return params, layout, results


def test_counts_add_up_and_labels_match_truth(simulated: tuple[Params, Layout, dict]) -> None:
    _, _, results = simulated
    for result in results.values():
        assert result["n_featured"] > 50
        assert result["n_departures"] == result["n_cancelled"] + result["n_featured"]
        assert result["n_labeled"] + result["n_unlabelable"] == result["n_featured"]
        assert result["n_labeled"] >= 0.8 * result["n_featured"]
        assert result["n_scored"] == result["n_labeled"]
        assert result["label_error_p95_min"] <= 10      # labels are board readings: a few minutes off truth
    # D2 learned the scheduled arrival of every train it saw arrive on D1 (same timetable every day).
    assert results[D2]["n_remaining_sched_known"] >= results[D1]["n_remaining_sched_known"]


def test_no_leakage_on_simulated_boards(simulated: tuple[Params, Layout, dict]) -> None:
    params, layout, _ = simulated
    departures = pd.read_parquet(layout.day_file("departures", D2))
    snaps = build_features.read_snapshots(params, layout, D2)
    timetable = learn_timetable(build_features.read_timetable_rows(params, layout, D2))
    written = pd.read_parquet(layout.day_file("features", D2)).set_index(s.DEPARTURE_ID)
    sample = written.sort_values(s.T_PRED).iloc[::max(1, len(written) // 8)]
    for dep_id, row in sample.iterrows():
        cut = snaps[snaps[s.POLL_TIME] <= row[s.T_PRED]]
        alone = departures[departures[s.DEPARTURE_ID] == dep_id]
        rebuilt = build_frame(alone, cut, timetable, D2, params.features).set_index(s.DEPARTURE_ID)
        pd.testing.assert_series_equal(rebuilt.loc[dep_id], row, check_names=False, check_dtype=False)


def test_training_frame_grows_with_as_of(simulated: tuple[Params, Layout, dict]) -> None:
    params, layout, results = simulated
    first = read_training_frame(params, layout, [D1, D2], close_time(params, D1))
    both = read_training_frame(params, layout, [D1, D2], close_time(params, D2) + dt.timedelta(hours=1))
    assert len(first) == results[D1]["n_labeled"]
    assert len(both) == results[D1]["n_labeled"] + results[D2]["n_labeled"]
    assert both[s.LABEL].notna().all() and set(s.FEATURES) <= set(both.columns)
