"""The label-free MAE estimate: fitted on a reference with labels, it follows the realized MAE of days
whose mix of easy and hard departures changes, is deterministic, and raises its signal only when set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.monitoring.estimate import LossEstimator, estimated_performance

pytestmark = pytest.mark.unit


def departures(n: int, hard_share: float, seed: int) -> pd.DataFrame:
    """Predicted departures whose error grows with the remaining travel time and is large on one line
    (a construction site): the error depends on what is known at prediction time."""
    rng = np.random.default_rng(seed)
    hard = rng.random(n) < hard_share
    remaining = rng.uniform(5, 120, n)
    frame = pd.DataFrame({c: rng.normal(0, 1, n) for c in s.FEATURE_NUMERIC})
    frame[s.REMAINING_SCHED_MIN] = remaining
    for column in s.FEATURE_CATEGORICAL:
        frame[column] = rng.choice(["a", "b", "c"], n)
    frame[s.LINE] = np.where(hard, "RE 7", rng.choice(["S 1", "RB 5"], n))
    frame[s.DEPARTURE_ID] = [f"{seed}-{i:06d}" for i in range(n)]
    frame[s.PREDICTION] = rng.gamma(2.0, 2.0, n)
    frame[s.PRED_BOARD_FORECAST] = frame[s.PREDICTION] + rng.normal(0, 1, n)
    scale = 0.5 + remaining / 60 + np.where(hard, 6.0, 0.0)
    frame[s.LABEL] = frame[s.PREDICTION] + rng.laplace(0, scale)
    return frame


def realized(frame: pd.DataFrame) -> float:
    return float((frame[s.LABEL] - frame[s.PREDICTION]).abs().mean())


def test_the_estimate_follows_the_realized_mae_without_seeing_labels():
    estimator = LossEstimator(departures(6000, 0.1, seed=1))
    days = [departures(2000, share, seed=10 + i) for i, share in enumerate((0.05, 0.1, 0.3, 0.5))]
    estimates = [estimator.estimate(day.drop(columns=[s.LABEL])) for day in days]
    truths = [realized(day) for day in days]
    assert np.corrcoef(estimates, truths)[0, 1] > 0.95
    assert all(abs(e - t) / t < 0.15 for e, t in zip(estimates, truths, strict=True)), (estimates, truths)
    assert estimates == [LossEstimator(departures(6000, 0.1, seed=1)).estimate(d) for d in days], \
        "the same reference and day give the same estimate"


def test_the_signal_is_raised_only_when_a_threshold_is_set():
    reference, hard_day = departures(4000, 0.1, seed=2), departures(2000, 0.6, seed=3)
    off = estimated_performance(reference, hard_day, 0)
    assert off["raised"] is False and off["ratio"] > 1.5 and off["realized_mae"] is not None
    assert estimated_performance(reference, hard_day, 1.5)["raised"] is True
    assert estimated_performance(reference, departures(2000, 0.1, seed=4), 1.5)["raised"] is False


def test_too_small_a_reference_or_no_prediction_gives_no_estimate():
    small = estimated_performance(departures(100, 0.1, seed=5), departures(500, 0.1, seed=6), 1.5)
    assert small["estimated_mae"] is None and small["raised"] is False
    unpredicted = departures(500, 0.1, seed=7).assign(**{s.PREDICTION: np.nan})
    assert estimated_performance(departures(4000, 0.1, seed=8), unpredicted, 1.5)["estimated_mae"] is None
