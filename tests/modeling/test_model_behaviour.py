"""Behavioural checks of a trained model: what it must do whatever its accuracy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from benchmarks.bench_train import write_days
from pipelines import schema as s
from pipelines.config import load_params
from pipelines.modeling import model as md
from pipelines.modeling import train
from pipelines.modeling import train_data as td
from pipelines.storage import Layout
from tests.small_training import small_training

pytestmark = pytest.mark.model

FIRST = dt.date(2025, 9, 1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained on five synthetic days, and its holdout rows."""
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = load_params(overrides=small_training(4, 3, 80))
    layout = Layout(params, tmp_path_factory.mktemp("behaviour") / "data")
    as_of = write_days(params, layout, FIRST, 5, 1200)
    result = train.run(params, layout, as_of, {"kind": "manual", "reason": "behaviour test"})
    holdout = td.read_frame(params, layout, td.holdout_days(params, layout, as_of), as_of)
    yield md.load_model(result["model_file"]), holdout
    mp.undo()


@pytest.mark.parametrize("more_min", [5, 15, 30])
def test_a_larger_departure_delay_never_lowers_the_predicted_arrival_delay(trained, more_min):
    """Other features equal, a train that leaves later is not predicted to arrive earlier."""
    model, holdout = trained
    later = holdout.assign(**{s.DELAY_AT_PRED: holdout[s.DELAY_AT_PRED] + more_min})
    before, after = model.predict(holdout), model.predict(later)
    assert len(before) > 1000
    assert (after >= before).all(), f"{int((after < before).sum())} rows predicted earlier"
    # trees do not extrapolate past the delays they saw, so the carry-through is partial, never negative
    assert np.mean(after - before) > 1.0, "the departure delay must move the predicted arrival delay"


def test_one_more_minute_moves_no_prediction_down_by_more_than_a_split_step(trained):
    """Unconstrained trees may wiggle by a fraction of a minute at a split; never by a real amount."""
    model, holdout = trained
    later = holdout.assign(**{s.DELAY_AT_PRED: holdout[s.DELAY_AT_PRED] + 1})
    drop = model.predict(holdout) - model.predict(later)
    assert drop.max() < 0.25, f"largest drop {drop.max():.3f} min for one more minute of departure delay"
