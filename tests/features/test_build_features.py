"""build_features: hand-computed features, baselines, stage outputs, idempotency and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pytest

from pipelines import schema as s
from pipelines.cli import main as cli_main
from pipelines.config import Params
from pipelines.detection.ids import departure_id
from pipelines.errors import StageError
from pipelines.features import build_features
from pipelines.features.baselines import add_baselines
from pipelines.features.compute import corridor_of, line_of, remaining_stops, trend_slopes
from pipelines.storage import Layout, write_parquet
from tests.features_scenario import DAY, at, departure_rows, write_scenario

pytestmark = pytest.mark.unit


@pytest.fixture()
def built(params: Params, layout: Layout) -> tuple[dict, pd.DataFrame]:
    write_scenario(layout)
    result = build_features.run(params, layout, DAY)
    frame = pd.read_parquet(layout.day_file("features", DAY)).set_index(s.TRAIN_NUMBER)
    return result, frame


def test_train_seen_at_three_polls_matches_hand_computation(built: tuple[dict, pd.DataFrame]) -> None:
    row = built[1].loc["100"]
    assert row[s.T_PRED] == pd.Timestamp(at("08:00"))
    assert row[s.DELAY_AT_PRED] == 4                    # last shown at A
    assert row[s.DELAY_TREND] == pytest.approx(1.5)     # slope of 1, 2, 4 per poll
    assert row[s.REMAINING_SCHED_MIN] == 62             # 07:58 -> 09:00 from C's board
    assert row[s.REMAINING_STOPS] == 2
    assert (row[s.HOUR], row[s.WEEKDAY]) == (9, 0)       # 09:58 Berlin, a Monday
    assert row[s.LATE_VS_SCHEDULE_MIN] == 2
    assert (row[s.PLATFORM_CHANGE], row[s.REASON_CODE], row[s.N_REASONS]) == (1, "43", 2)
    assert row[s.LINE_RECENT_DELAY] == pytest.approx((10 + 12 + 0) / 3)          # 102 twice, 600 once
    assert row[s.STATION_RECENT_DELAY] == pytest.approx((10 + 12 + 0 + 20 + 0) / 5)
    assert row[s.DEST_BOARD_FORECAST] == 3              # C at 07:57; 08:03 is after t_pred
    assert (row[s.LINE], row[s.CORRIDOR], row[s.PLANNED_DESTINATION]) == ("RE 7", "A-C", "C")
    assert row[s.PRED_PERSISTENCE] == 4
    assert row[s.PRED_PERSISTENCE_GROWTH] == pytest.approx(4 + 3.1 * 62 / 60)
    assert row[s.PRED_BOARD_FORECAST] == 3 and row[s.BOARD_FORECAST_AVAILABLE]


def test_other_rows_and_counts(built: tuple[dict, pd.DataFrame]) -> None:
    result, frame = built
    assert "600" not in frame.index                      # cancelled: no features row, but counted
    assert (result["n_departures"], result["n_cancelled"], result["n_featured"]) == (5, 1, 4)
    assert frame.loc["102", s.REMAINING_SCHED_MIN] == 62      # learned from D-1's board at C
    assert pd.isna(frame.loc["102", s.LINE_RECENT_DELAY])     # nothing else of RE 7 before 07:33
    assert pd.isna(frame.loc["300", s.REMAINING_SCHED_MIN])   # X never polled, no timetable
    assert frame.loc["300", s.PRED_PERSISTENCE_GROWTH] == 0   # falls back on persistence
    assert frame.loc["500", s.LINE] == "ICE A-C" and frame.loc["500", s.REMAINING_STOPS] == 1
    assert pd.isna(frame.loc["500", s.DEST_BOARD_FORECAST])  # C shows the stop cancelled: no forecast
    assert frame.loc["500", s.REMAINING_SCHED_MIN] == 60      # but still its scheduled arrival
    assert frame.loc["500", s.PRED_BOARD_FORECAST] == 20 and not frame.loc["500", s.BOARD_FORECAST_AVAILABLE]
    assert list(frame[s.DEPARTURE_ID]) == sorted(frame[s.DEPARTURE_ID])
    assert result["n_labeled"] + result["n_unlabelable"] == result["n_featured"]
    # Only 100 is labeled (7): persistence 4, growth 4 + 3.1 * 62 / 60, board forecast 3.
    assert result["mae_pred_persistence"] == 3 and result["mae_pred_board_forecast"] == 4
    assert result["mae_pred_persistence_growth"] == pytest.approx(4 + 3.1 * 62 / 60 - 7, abs=1e-4)


def test_baselines_arithmetic() -> None:
    frame = pd.DataFrame({s.DELAY_AT_PRED: [5.0, 5.0, -1.0], s.REMAINING_SCHED_MIN: [120.0, None, 30.0],
                          s.DEST_BOARD_FORECAST: [9.0, None, None]})
    out = add_baselines(frame, 3.0)
    assert out[s.PRED_PERSISTENCE].tolist() == [5.0, 5.0, -1.0]
    assert out[s.PRED_PERSISTENCE_GROWTH].tolist() == [11.0, 5.0, 0.5]
    assert out[s.PRED_BOARD_FORECAST].tolist() == [9.0, 5.0, -1.0]
    assert out[s.BOARD_FORECAST_AVAILABLE].tolist() == [True, False, False]


def test_pure_helpers() -> None:
    assert corridor_of("Köln|Bonn|Mainz") == corridor_of("Mainz|Bonn|Köln") == "Köln-Mainz"
    assert line_of("ICE 1555", "ICE", "Mainz|Köln") == "ICE Köln-Mainz"
    assert line_of("S 1", "S", "A|B") == "S 1"
    assert remaining_stops("A|B|C|D", "C", "B") == 1 and remaining_stops("A|B", "", "B") == 0
    history = pd.DataFrame({s.DEPARTURE_ID: ["a", "b", "b", "b", "c", "c", "c"],
                            s.DELAY_DEPARTURE: [3, 9, 1, 3, 7, None, 5]})
    slopes = trend_slopes(history, 5)
    assert slopes.to_dict() == {"a": 0.0, "b": pytest.approx(-3.0), "c": pytest.approx(-2.0)}
    assert trend_slopes(history, 2)["b"] == pytest.approx(2.0)   # only the last two polls: 1, 3


def test_rerun_is_byte_identical(params: Params, layout: Layout, built: tuple[dict, pd.DataFrame]) -> None:
    files = [layout.day_file("features", DAY), layout.day_file("labels", DAY),
             layout.dataset("metrics") / "build_features" / f"{DAY}.json"]
    before = [f.read_bytes() for f in files]
    again = build_features.run(params, layout, DAY)
    assert [f.read_bytes() for f in files] == before and again["labels_written"] is False


def test_labels_are_never_rewritten(params: Params, layout: Layout, built: tuple[dict, pd.DataFrame]) -> None:
    labels_file, features_file = layout.day_file("labels", DAY), layout.day_file("features", DAY)
    before = labels_file.read_bytes(), features_file.read_bytes()
    rows = [r for r in departure_rows() if r[s.TRAIN_NUMBER] != "300"]   # inputs changed after publication
    write_parquet(pa.Table.from_pylist(rows, schema=s.DEPARTURES_SCHEMA), layout.day_file("departures", DAY))
    with pytest.raises(StageError, match="append-only"):
        build_features.run(params, layout, DAY)
    assert (labels_file.read_bytes(), features_file.read_bytes()) == before


def test_quarantined_rows_are_not_used(params: Params, layout: Layout) -> None:
    write_scenario(layout)
    bad = pa.table({s.STATION: ["A"], s.POLL_TIME: pa.array([at("08:00")], s.TS),
                    s.SERVICE_DATE: pa.array([DAY], pa.date32()), s.TRAIN_NUMBER: ["100"],
                    s.RULE: ["delay_range"]})
    write_parquet(bad, layout.dataset("quarantine") / "validate_snapshots" / f"{DAY}.parquet")
    build_features.run(params, layout, DAY)
    row = pd.read_parquet(layout.day_file("features", DAY)).set_index(s.TRAIN_NUMBER).loc["100"]
    assert row[s.DELAY_AT_PRED] == 2 and row[s.PLATFORM_CHANGE] == 0   # the 07:57 row is the last one left


def test_label_error_against_truth(params: Params, layout: Layout) -> None:
    write_scenario(layout)
    truth = pd.DataFrame({s.SERVICE_DATE: [DAY, DAY], s.TRAIN_NUMBER: ["100", "100"], s.STOP_SEQ: [0, 2],
                          s.STATION: ["A", "C"], s.SCHEDULED_ARRIVAL: [pd.NaT, pd.Timestamp(at("09:00"))],
                          s.TRUE_ARRIVAL: [pd.NaT, pd.Timestamp(at("09:08"))]})
    write_parquet(truth, layout.day_file("truth", DAY))
    result = build_features.run(params, layout, DAY)
    metrics = json.loads((layout.dataset("metrics") / "build_features" / f"{DAY}.json").read_text())
    assert result["label_error_p95_min"] == metrics["label_error_p95_min"] == 1.0   # label 7, truth 8
    assert metrics["n_scored"] == 1


def test_cli_builds_a_day(layout: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    write_scenario(layout)
    home = ["--home", str(layout.root)]
    assert cli_main(["build_features", "--start-date", f"{DAY}", "--days", "1", *home]) == 0
    assert json.loads(capsys.readouterr().out)["n_featured"] == 4
    written = pd.read_parquet(layout.day_file("features", DAY))
    assert departure_id(DAY, "100", "A") in set(written[s.DEPARTURE_ID])
    assert cli_main(["build_features", "--date", f"{DAY + dt.timedelta(days=1)}", *home]) == 1  # none there


def test_missing_departures_is_a_clear_error(params: Params, layout: Layout) -> None:
    with pytest.raises(StageError, match="detect_departures"):
        build_features.run(params, layout, DAY + dt.timedelta(days=1))


def test_day_with_only_cancelled_departures(params: Params, layout: Layout) -> None:
    cancelled = [r for r in departure_rows() if r[s.IS_CANCELLED]]
    table = pa.Table.from_pylist(cancelled, schema=s.DEPARTURES_SCHEMA)
    write_parquet(table, layout.day_file("departures", DAY))
    result = build_features.run(params, layout, DAY)
    counts = [result[k] for k in ("n_departures", "n_cancelled", "n_featured", "n_labeled")]
    assert counts == [1, 1, 0, 0]
    assert pd.read_parquet(layout.day_file("features", DAY)).empty
