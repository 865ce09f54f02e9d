"""Training: window selection, determinism, unseen categories, MLflow logging and reproduction."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from benchmarks.bench_train import write_days
from pipelines import schema as s
from pipelines.cli import main as cli_main
from pipelines.config import load_params
from pipelines.datasets import close_time
from pipelines.errors import StageError
from pipelines.modeling import metrics as m
from pipelines.modeling import model as md
from pipelines.modeling import train
from pipelines.modeling import train_data as td
from pipelines.registry import integrity, reproduce, tracking
from pipelines.storage import Layout, write_parquet
from tests.small_training import small_training

pytestmark = pytest.mark.model

FIRST = dt.date(2025, 9, 1)
# One LightGBM thread: OpenMP spin-waits badly on a shared, oversubscribed machine.
SMALL = small_training(4, 3, 80)


@pytest.fixture()
def small(tmp_path, monkeypatch):
    """Params for a 5-day window and a data root with 5 synthetic days; returns (params, layout, as_of)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = load_params(overrides=SMALL)
    layout = Layout(params, tmp_path / "data")
    as_of = write_days(params, layout, FIRST, 5, 1200)
    return params, layout, as_of


def test_window_ends_where_the_matured_holdout_begins(small):
    params, layout, as_of = small
    window, holdout = td.split_days(params, layout, as_of)
    assert holdout == [FIRST + dt.timedelta(days=4)]
    assert window == [FIRST + dt.timedelta(days=i) for i in range(4)]
    # One hour earlier the last day has not closed: everything shifts back by a day.
    window, holdout = td.split_days(params, layout, as_of - dt.timedelta(hours=1))
    assert holdout == [FIRST + dt.timedelta(days=3)] and window[-1] == FIRST + dt.timedelta(days=2)


def test_holdout_skips_days_whose_labels_are_not_all_known(small):
    params, layout, as_of = small
    last = FIRST + dt.timedelta(days=4)
    labels = pd.read_parquet(layout.day_file("labels", last))
    labels.loc[0, s.LABELED_AT] = pd.Timestamp(as_of) + pd.Timedelta(hours=2)
    write_parquet(labels, layout.day_file("labels", last))
    assert td.holdout_days(params, layout, as_of) == [FIRST + dt.timedelta(days=3)]


def test_too_few_days_is_a_clear_error(small):
    params, layout, as_of = small
    with pytest.raises(StageError, match="min_days"):
        td.split_days(load_params(overrides={**SMALL, "train.min_days": 6}), layout, as_of)


def test_labels_after_as_of_are_not_used(small):
    params, layout, as_of = small
    day = FIRST + dt.timedelta(days=2)
    early = close = close_time(params, day)
    frame_late = td.read_frame(params, layout, [day], close)
    frame_early = td.read_frame(params, layout, [day], early - dt.timedelta(hours=12))
    assert len(frame_early) < len(frame_late)
    assert frame_late[s.LABEL].notna().all()


def test_same_data_same_params_byte_identical_model(small, tmp_path):
    params, layout, as_of = small
    first = train.fit(params, layout, as_of).model.save(tmp_path / "a")
    second = train.fit(params, layout, as_of).model.save(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    other = load_params(overrides={**SMALL, "train.seed": 43})
    third = train.fit(other, layout, as_of).model.save(tmp_path / "c")
    assert third.read_bytes() != first.read_bytes()  # the seed matters, so the equality above is not vacuous


def test_unseen_categories_and_nulls_are_scored(small):
    params, layout, as_of = small
    fitted = train.fit(params, layout, as_of)
    rows = fitted.holdout.head(50).copy()
    known = fitted.model.predict(rows)
    rows[s.STATION] = "Neverland Hbf"
    rows[s.LINE] = None
    rows[s.REASON_CODE] = "777"
    codes = md.feature_matrix(rows, fitted.model.vocab)
    assert (codes[[s.STATION, s.REASON_CODE]] == md.UNSEEN).all().all()
    pred = fitted.model.predict(rows)
    assert np.isfinite(pred).all() and pred.shape == known.shape


def test_feature_matrix_is_the_same_from_arrow_and_pandas(small):
    """Training encodes Arrow rows, scoring pandas rows: the same vocabularies and the same matrix."""
    params, layout, as_of = small
    days, _ = td.split_days(params, layout, as_of)
    frame = td.read_model_rows(params, layout, days, as_of).to_pandas()
    frame.loc[:9, s.STATION] = None           # nulls are one vocabulary entry
    frame.loc[:4, s.LINE_RECENT_DELAY] = None  # numeric nulls are NaN
    table = pa.Table.from_pandas(frame, preserve_index=False)
    vocab = md.build_vocabularies(table)
    assert vocab == md.build_vocabularies(frame) and md.NULL_TOKEN in vocab[s.STATION]
    frame.loc[10:19, s.CORRIDOR] = "Mars"      # unseen in the vocabulary: code UNSEEN both ways
    table = pa.Table.from_pandas(frame, preserve_index=False)
    from_arrow, from_pandas = md.feature_matrix(table, vocab), md.feature_matrix(frame, vocab)
    pd.testing.assert_frame_equal(from_arrow, from_pandas)
    assert (from_arrow[s.CORRIDOR].iloc[10:20] == md.UNSEEN).all()
    assert from_arrow[s.LINE_RECENT_DELAY].iloc[:5].isna().all()


def test_model_learns_more_than_persistence(small):
    """Behavioural: on data where delays grow with remaining time, the model beats carrying delay forward."""
    params, layout, as_of = small
    fitted = train.fit(params, layout, as_of)
    pred, scores = train.holdout_metrics(fitted.model, fitted.holdout)
    assert scores["model"]["mae"] < 0.7 * scores[s.PRED_PERSISTENCE]["mae"]
    later = fitted.holdout.head(200).copy()
    later[s.DELAY_AT_PRED] += 30
    assert (fitted.model.predict(later) >= pred[:200] - 1e-9).mean() > 0.95  # more delay now, not less later


def test_metrics_known_values():
    out = m.regression_metrics(np.array([0.0, 10.0, 4.0, 2.0]), np.array([1.0, 4.0, 4.0, 2.0]))
    assert out["mae"] == pytest.approx(7 / 4) and out["rmse"] == pytest.approx(math.sqrt(37 / 4))
    assert out["within_5min"] == 0.75 and out["n"] == 4
    assert math.isnan(m.regression_metrics(np.array([]), np.array([]))["mae"])


def test_run_logs_registers_and_reproduces(small):
    params, layout, as_of = small
    result = train.run(params, layout, as_of, {"kind": "manual", "reason": "test"})
    assert result["version"] == "1" and result["mae"] < result["mae_persistence"]
    stored = tracking.model_file(layout, "1")
    assert md.file_sha256(stored) == result["model_sha256"] == md.file_sha256(result["model_file"])
    info = tracking.version_info(layout, "1")
    assert info["tags"][tracking.SHA_TAG] == result["model_sha256"]
    assert info["tags"]["trigger"] == "manual" and info["tags"]["as_of"] == as_of.isoformat()
    assert info["tags"]["git_commit"] and len(info["tags"]["data_version"]) == 64
    run = tracking.run_info(layout, info["run_id"])
    assert {"holdout_mae", "holdout_pred_persistence_mae", "holdout_pred_board_forecast_mae",
            "holdout_ICE_mae", "holdout_p90_abs_error", "holdout_within_5min"} <= set(run["metrics"])
    reference = pq.read_table(tracking.run_artifact(layout, info["run_id"], tracking.REFERENCE_ARTIFACT))
    assert reference.num_rows == result["rows"]["holdout"] and s.PREDICTION in reference.column_names
    assert tracking.run_artifact(layout, info["run_id"], "plots/residuals.png").stat().st_size > 1000
    loaded = integrity.load_version(layout, "1")
    holdout = td.read_frame(params, layout, td.holdout_days(params, layout, as_of), as_of)
    assert np.allclose(loaded.predict(holdout), md.load_model(result["model_file"]).predict(holdout))

    assert reproduce.run(params, layout, "1")["reproduced"] is True
    assert cli_main(["reproduce", "1", "--home", str(layout.root)]) == 0
    # Changing an input partition must make reproduction fail loudly, naming the cause.
    day = FIRST + dt.timedelta(days=1)
    labels = pd.read_parquet(layout.day_file("labels", day))
    labels[s.LABEL] = labels[s.LABEL] + 7
    write_parquet(labels, layout.day_file("labels", day))
    with pytest.raises(StageError, match="NOT reproduced.*input partitions changed"):
        reproduce.run(params, layout, "1")
    assert cli_main(["reproduce", "1", "--home", str(layout.root)]) == 1


def test_manual_trigger_needs_a_reason(small):
    params, layout, as_of = small
    with pytest.raises(ValueError, match="reason"):
        train.run(params, layout, as_of, {"kind": "manual"})
    assert json.loads(json.dumps({"kind": "drift"}))  # triggers are plain JSON


def test_dvc_hash_of_the_inputs_is_read_from_dvc_lock(small):
    params, layout, _ = small
    assert td.dvc_data_version(params, layout) is None  # not a DVC workspace
    lock = {"schema": "2.0", "stages": {"build_features": {"cmd": "x", "outs": [
        {"path": "data/features", "md5": "aaa.dir"}, {"path": "data/labels", "md5": "bbb.dir"}]}}}
    (layout.root.parent / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert td.dvc_data_version(params, layout) == "data/features=aaa.dir,data/labels=bbb.dir"


def test_a_drift_retrain_weights_the_rows_from_the_event_on():
    """train.post_event_weight: the new regime's first days count more than the weeks before it."""
    import dataclasses

    days = [dt.date(2025, 9, 10) + dt.timedelta(days=i) for i in range(6)]
    rows = pa.table({s.SERVICE_DATE: pa.array([d for d in days for _ in range(2)], pa.date32())})
    heavy = dataclasses.replace(load_params().train, post_event_weight=4.0)
    weights = td.recency_weights(rows, dt.date(2025, 9, 14), heavy)
    assert weights.tolist() == [1.0] * 8 + [4.0] * 4
    assert td.recency_weights(rows, None, heavy) is None, "not a drift retrain: equal weights"
    assert td.recency_weights(rows, dt.date(2025, 9, 14), dataclasses.replace(heavy, post_event_weight=1.0)) \
        is None
