"""The score stage on a real MLflow SQLite registry: point-in-time champion, shadow model, same bytes."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from pipelines import schema as s
from pipelines.cli import main as cli_main
from pipelines.config import load_params
from pipelines.datasets import close_time
from pipelines.errors import StageError
from pipelines.modeling import score, train
from pipelines.modeling.training_rows import read_training_table
from pipelines.registry import integrity
from pipelines.storage import read_table, write_parquet
from pipelines.validation import validate_features
from tests.small_training import day, promote_passed, small_training, synthetic_store

pytestmark = pytest.mark.integration

SMALL = small_training(4, 3, 60)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Five days of features; v1 champion from day 2's close, replaced by v2 at day 4's close."""
    with synthetic_store(tmp_path_factory, "score", SMALL, 5, 500) as (params, layout, as_of):
        weak = load_params(overrides={**SMALL, "train.num_boost_round": 5})
        v1 = train.run(weak, layout, as_of, {"kind": "bootstrap"})["version"]
        v2 = train.run(params, layout, as_of, {"kind": "manual", "reason": "test"})["version"]
        moves = ((v1, None, close_time(params, day(2))), (v2, v1, close_time(params, day(4))))
        for version, champion, when in moves:
            assert promote_passed(params, layout, version, champion, when)["moved"]
        yield params, layout, v1, v2


def test_no_champion_yet_writes_nothing(scored):
    params, layout, _, _ = scored
    result = score.run(params, layout, day(1))
    assert result["rows"] == 0 and result["model_version"] is None
    assert not layout.day_file("predictions", day(1)).exists()


def test_first_champion_scores_and_shadows_itself(scored):
    params, layout, v1, _ = scored
    result = score.run(params, layout, day(3))
    table = pd.read_parquet(result["predictions"])
    assert set(table[s.MODEL_VERSION]) == {v1} and set(table[s.SHADOW_MODEL_VERSION]) == {v1}
    assert (table[s.PREDICTION] == table[s.SHADOW_PREDICTION]).all()


def test_later_champion_scores_with_first_in_shadow_and_reruns_identically(scored):
    params, layout, v1, v2 = scored
    result = score.run(params, layout, day(5))
    path = layout.day_file("predictions", day(5))
    first_bytes = path.read_bytes()
    features = pd.read_parquet(layout.day_file("features", day(5))).sort_values(s.DEPARTURE_ID)
    table = pd.read_parquet(path)
    assert result["rows"] == len(features) == len(table) > 0
    assert list(table.columns) == list(s.PREDICTIONS_SCHEMA.names)
    assert table[s.DEPARTURE_ID].tolist() == features[s.DEPARTURE_ID].tolist()
    assert table[s.PREDICTION_ID].is_unique
    assert set(table[s.MODEL_VERSION]) == {v2} and set(table[s.SHADOW_MODEL_VERSION]) == {v1}
    expected = integrity.load_version(layout, v2).predict(features)
    assert table[s.PREDICTION].to_numpy() == pytest.approx(expected)
    assert not (table[s.PREDICTION] == table[s.SHADOW_PREDICTION]).all()
    score.run(params, layout, day(5))
    assert path.read_bytes() == first_bytes


def test_missing_features_refused_and_cli(scored, capsys):
    params, layout, _, v2 = scored
    with pytest.raises(StageError, match="build_dataset"):
        score.run(params, layout, day(9))
    overrides = [f"--set={k}={v}" for k, v in SMALL.items() if k != "train.lgb_params"]
    code = cli_main(["score", "--home", str(layout.root), "--day", day(5).isoformat(), *overrides])
    assert code == 0 and f'"model_version": "{v2}"' in capsys.readouterr().out


def test_only_what_the_features_gate_passed_is_scored_or_trained_on(scored):
    """Before, score and train read a features batch whatever validate_features decided about it."""
    params, layout, _, _ = scored
    path = layout.day_file("features", day(3))
    original = read_table(path)
    broken = original.drop_columns([s.HOUR])   # a column missing: the batch fails at table level
    with pytest.raises(StageError):
        validate_features.validate_table(params, layout, day(3), broken)
    try:
        with pytest.raises(StageError, match=r"validate_features failed .*open the report .*features-"):
            score.run(params, layout, day(3))
        table, counts = read_training_table(params, layout, [day(2), day(3)], close_time(params, day(4)))
        assert counts["refused_days"] == 1 and set(table[s.SERVICE_DATE].to_pylist()) == {day(2)}
        # two rows out of range: quarantined, the batch passes; neither is scored nor trained on
        delay = original[s.DELAY_AT_PRED].to_numpy().copy()
        delay[:2] = 10_000
        bad = original.set_column(original.schema.get_field_index(s.DELAY_AT_PRED), s.DELAY_AT_PRED,
                                  pa.array(delay))
        write_parquet(bad, path)
        assert validate_features.run(params, layout, day(3))["failing_rows"] == 2
        set_aside = set(original[s.DEPARTURE_ID].to_pylist()[:2])
        result = score.run(params, layout, day(3))
        scored_ids = set(pd.read_parquet(result["predictions"])[s.DEPARTURE_ID])
        assert result["quarantined"] == 2 and result["rows"] == original.num_rows - 2
        assert not scored_ids & set_aside
        table, counts = read_training_table(params, layout, [day(3)], close_time(params, day(4)))
        assert counts["quarantined"] == 2 and not set(table[s.DEPARTURE_ID].to_pylist()) & set_aside
    finally:
        write_parquet(original, path)
        validate_features.run(params, layout, day(3))
        score.run(params, layout, day(3))


def test_a_quarantined_row_without_an_id_keeps_every_other_row(scored):
    """SQL's NOT IN over a set holding NULL keeps nothing: a quarantined row whose departure_id was
    missing (it failed departure_id_not_null) must not empty the training rows."""
    from pipelines.datasets import FEATURES_GATE, quarantine_file

    params, layout, _, _ = scored
    path = quarantine_file(layout, FEATURES_GATE, day(2))
    saved = path.read_bytes()
    as_of = close_time(params, day(4))
    rows = read_training_table(params, layout, [day(2)], as_of)[0].num_rows
    no_id = pa.table({s.DEPARTURE_ID: pa.array([None], pa.string()), s.RULE: ["departure_id_not_null"]})
    write_parquet(no_id, path)
    try:
        assert read_training_table(params, layout, [day(2)], as_of)[0].num_rows == rows > 0
    finally:
        path.write_bytes(saved)
