"""Daily skill figures: hand-computed on tiny frames, and on a real MLflow registry with scored days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.datasets import close_time
from pipelines.modeling import score, train
from pipelines.monitoring import skill
from pipelines.storage import Layout, write_parquet
from pipelines.validation import validate_features
from tests.small_training import day, promote_passed, small_training, synthetic_store

pytestmark = pytest.mark.integration

SMALL = small_training(3, 2, 40)


def test_score_rows_by_hand() -> None:
    rows = pd.DataFrame({s.LABEL: [10.0, 0.0, 4.0, 6.0], s.PRED_PERSISTENCE: [0.0, 0.0, 0.0, 2.0],
                         s.PRED_BOARD_FORECAST: [9.0, 0.0, 1.0, 2.0],
                         s.BOARD_FORECAST_AVAILABLE: [True, False, True, False],
                         s.MODEL_VERSION: "2", s.PREDICTION: [8.0, 1.0, 4.0, 6.0],
                         s.SHADOW_MODEL_VERSION: "1", s.SHADOW_PREDICTION: [5.0, 0.0, 4.0, 3.0]})
    out = skill.score_rows(rows)
    assert out["n_labeled"] == 4 and out["n_board_forecast"] == 2
    assert out["mae_persistence"] == pytest.approx((10 + 0 + 4 + 4) / 4)        # 4.5
    assert out["mae_board_forecast"] == pytest.approx((1 + 3) / 2)              # available rows only
    assert out["mae_champion"] == pytest.approx((2 + 1 + 0 + 0) / 4)            # 0.75
    assert out["mae_without_retraining"] == pytest.approx((5 + 0 + 0 + 3) / 4)  # 2.0
    assert out["skill_champion"] == pytest.approx(1 - 0.75 / 4.5, abs=1e-4)
    assert out["skill_first"] == pytest.approx(1 - 2.0 / 4.5, abs=1e-4)
    assert (out["champion_version"], out["first_version"]) == ("2", "1")


def test_skill_undefined_without_a_persistence_error() -> None:
    assert skill.skill(1.0, 0.0) is None and skill.skill(None, 2.0) is None
    records = [{"n_labeled": 10, "mae_champion": 1.0, "mae_persistence": 2.0},
               {"n_labeled": 30, "mae_champion": 3.0, "mae_persistence": 4.0},
               {"n_labeled": 5, "mae_champion": None, "mae_persistence": 9.0}]
    assert skill.pooled_skill(records) == pytest.approx(1 - (10 + 90) / (20 + 120), abs=1e-4)
    assert skill.pooled_skill([{"n_labeled": None, "mae_champion": None}]) is None


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Four synthetic days; v1 champion from day 2's close: day 3 is scored, day 1 is not."""
    with synthetic_store(tmp_path_factory, "skill", SMALL, 4, 400) as (params, layout, _):
        as_of = close_time(params, day(3))
        version = train.run(params, layout, as_of, {"kind": "bootstrap"})["version"]
        assert promote_passed(params, layout, version, None, close_time(params, day(2)))["moved"]
        for n in (1, 3):
            score.run(params, layout, day(n))
        yield params, layout, version


def test_champion_day_matches_an_independent_computation(scored) -> None:
    params, layout, version = scored
    out = skill.daily_scores(params, layout, day(3), close_time(params, day(3)))
    feats = pd.read_parquet(layout.day_file("features", day(3)))
    labels = pd.read_parquet(layout.day_file("labels", day(3)))
    preds = pd.read_parquet(layout.day_file("predictions", day(3)))
    joined = feats.merge(labels[labels[s.LABEL_STATUS] == "labeled"], on=s.DEPARTURE_ID).merge(
        preds, on=s.DEPARTURE_ID)
    assert out["matured"] and out["n_labeled"] == len(joined) > 300
    expected = np.abs(joined[s.PREDICTION] - joined[s.LABEL]).mean()
    assert out["mae_champion"] == pytest.approx(expected, abs=1e-4)
    assert out["mae_without_retraining"] == pytest.approx(expected, abs=1e-4)  # first champion = champion
    assert out["mae_persistence"] == pytest.approx(
        np.abs(joined[s.PRED_PERSISTENCE] - joined[s.LABEL]).mean(), abs=1e-4)
    assert out["champion_version"] == out["first_version"] == version
    assert 0 < out["skill_champion"] < 1                                         # the model beats persistence


def test_segment_figures_use_only_its_rows(scored) -> None:
    params, layout, _ = scored
    whole = skill.daily_scores(params, layout, day(3), close_time(params, day(3)))
    ice = skill.daily_scores(params, layout, day(3), close_time(params, day(3)), where={s.CATEGORY: "ICE"})
    labels = pd.read_parquet(layout.day_file("labels", day(3)))
    joined = pd.read_parquet(layout.day_file("features", day(3))).merge(
        labels[labels[s.LABEL_STATUS] == "labeled"], on=s.DEPARTURE_ID)
    joined = joined[joined[s.CATEGORY] == "ICE"].merge(
        pd.read_parquet(layout.day_file("predictions", day(3))), on=s.DEPARTURE_ID)
    assert 0 < ice["n_labeled"] == len(joined) < whole["n_labeled"]
    expected = np.abs(joined[s.PREDICTION] - joined[s.LABEL]).mean()
    assert ice["mae_champion"] == pytest.approx(expected, abs=1e-4)
    assert ice["mae_champion"] != whole["mae_champion"]


def test_day_without_champion_has_baselines_only(scored) -> None:
    params, layout, _ = scored
    out = skill.daily_scores(params, layout, day(1), close_time(params, day(4)))
    assert out["matured"] and out["n_labeled"] > 300 and out["mae_persistence"] > 0
    assert out["mae_champion"] is None and out["skill_champion"] is None and out["champion_version"] is None


def test_all_none_before_the_labels_matured(scored, tmp_path) -> None:
    params, layout, _ = scored
    early = skill.daily_scores(params, layout, day(3), close_time(params, day(3)) - dt.timedelta(minutes=1))
    assert not early["matured"]
    assert all(early[k] is None for k in skill.SCORE_KEYS)
    # One label still unknown at as_of (learned later): the whole day waits, as train/evaluate do.
    late = Layout(params, tmp_path)
    labels = pd.read_parquet(layout.day_file("labels", day(3)))
    labels.loc[0, s.LABELED_AT] = pd.Timestamp(close_time(params, day(3)) + dt.timedelta(hours=1))
    write_parquet(labels, late.day_file("labels", day(3)))
    write_parquet(pd.read_parquet(layout.day_file("features", day(3))), late.day_file("features", day(3)))
    validate_features.run(params, late, day(3))   # only a batch the gate passed is judged
    at_close = skill.daily_scores(params, late, day(3), close_time(params, day(3)))
    assert all(at_close[k] is None for k in skill.SCORE_KEYS)
    after = skill.daily_scores(params, late, day(3), close_time(params, day(3)) + dt.timedelta(hours=1))
    assert after["matured"] and after["n_labeled"] > 300 and after["mae_persistence"] is not None
