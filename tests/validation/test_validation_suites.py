"""Data tests: the suites pass on good batches and fail, naming the rule, on deliberately broken copies."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from test_validation_samples import good_features, good_snapshots

from pipelines import schema as s
from pipelines.config import Params
from pipelines.validation.gate import to_frame
from pipelines.validation.gx_adapter import ValidationResult, validate
from pipelines.validation.suites import feature_suite, snapshot_suite
from pipelines.validation.validate_snapshots import with_row_key

pytestmark = pytest.mark.data


def _check_snapshots(params: Params, table: pa.Table) -> ValidationResult:
    return validate(to_frame(with_row_key(table)), snapshot_suite(params.validation), s.ROW_ID)


def _check_features(params: Params, table: pa.Table) -> ValidationResult:
    return validate(to_frame(table), feature_suite(params.validation), s.ROW_ID)


def _set(table: pa.Table, column: str, values: list, type_: pa.DataType | None = None) -> pa.Table:
    field = table.schema.field(column)
    array = pa.array(values, type_ or field.type)
    return table.set_column(table.schema.get_field_index(column), pa.field(column, array.type), array)


def _replace_at(table: pa.Table, column: str, index: int, value: object) -> pa.Table:
    values = table[column].to_pylist()
    values[index] = value
    return _set(table, column, values)


def _failed(result: ValidationResult) -> dict[str, tuple[int, ...]]:
    return {o.name: o.failing_ids for o in result.outcomes if not o.success}


def test_snapshot_suite_passes_on_good_data(params: Params) -> None:
    result = _check_snapshots(params, good_snapshots())
    assert result.success, _failed(result)
    assert len(result.outcomes) == len(snapshot_suite(params.validation).rules) > 30


SNAPSHOT_BREAKS: dict[str, tuple[Callable[[pa.Table], pa.Table], str]] = {
    "missing column": (lambda t: t.drop_columns([s.DESTINATION]), "columns_present"),
    "wrong type": (lambda t: _set(t, s.DELAY_DEPARTURE, t[s.DELAY_DEPARTURE].to_pylist(), pa.int64()),
                   "delay_departure_type"),
    "timestamp as text": (lambda t: _set(t, s.POLL_TIME, [str(v) for v in t[s.POLL_TIME].to_pylist()],
                                         pa.string()), "poll_time_type"),
    "null station": (lambda t: _replace_at(t, s.STATION, 4, None), "station_not_null"),
    "null cancelled flag": (lambda t: _replace_at(t, s.IS_CANCELLED, 4, None), "is_cancelled_not_null"),
    "delay too large": (lambda t: _replace_at(t, s.DELAY_DEPARTURE, 4, 601), "delay_departure_in_range"),
    "delay too early": (lambda t: _replace_at(t, s.DELAY_ARRIVAL, 4, -31), "delay_arrival_in_range"),
    "unknown category": (lambda t: _replace_at(t, s.CATEGORY, 4, "TGV"), "category_known"),
    "delay missing for a departure": (lambda t: _replace_at(t, s.DELAY_DEPARTURE, 4, None),
                                      "delay_departure_present_with_scheduled_departure"),
    "delay for a missing arrival": (lambda t: _replace_at(t, s.SCHEDULED_ARRIVAL, 4, None),
                                    "delay_arrival_absent_without_scheduled_arrival"),
    "duplicate key": (lambda t: pa.concat_tables([t, t.slice(4, 1)]), "snapshot_key_unique"),
    "train numbers often missing": (lambda t: _set(t, s.TRAIN_NUMBER, [None] * 10 + t[s.TRAIN_NUMBER]
                                                   .to_pylist()[10:]), "train_number_not_null"),
    "empty batch": (lambda t: t.slice(0, 0), "row_count"),
}


@pytest.mark.parametrize("case", sorted(SNAPSHOT_BREAKS))
def test_snapshot_suite_fails_on_broken_copy(params: Params, case: str) -> None:
    table = good_snapshots(stations=1, polls=4, trains=12)   # 48 rows; row 4 has both events
    assert table[s.SCHEDULED_ARRIVAL][4].is_valid and table[s.SCHEDULED_DEPARTURE][4].is_valid
    breaker, rule = SNAPSHOT_BREAKS[case]
    result = _check_snapshots(params, breaker(table))
    failed = _failed(result)
    assert rule in failed, failed
    if case == "missing column":
        observed = {o.name: o.observed for o in result.outcomes}["columns_present"]
        assert observed["missing"] == [s.DESTINATION]
    if case not in ("empty batch", "missing column", "wrong type", "timestamp as text", "duplicate key",
                    "train numbers often missing"):
        assert failed == {rule: (4,)}    # exactly the broken row, exactly one rule
    if case == "duplicate key":
        assert sorted(failed[rule]) == [4, 48]


def test_a_rare_null_train_number_passes_but_names_the_row(params: Params) -> None:
    table = _replace_at(good_snapshots(), s.TRAIN_NUMBER, 7, None)   # 1 of 360 rows: under 1%
    outcome = {o.name: o for o in _check_snapshots(params, table).outcomes}["train_number_not_null"]
    assert outcome.success and outcome.failing_ids == (7,)


def test_feature_suite_passes_on_good_data(params: Params) -> None:
    table = good_features()
    assert pc.sum(pc.is_null(table[s.DELAY_AT_PRED])).as_py() > 0   # baseline rule sees both cases
    result = _check_features(params, table)
    assert result.success, _failed(result)


FEATURE_BREAKS: dict[str, tuple[Callable[[pa.Table], pa.Table], str]] = {
    "missing feature": (lambda t: t.drop_columns([s.CORRIDOR]), "columns_present"),
    "categorical as number": (lambda t: _set(t, s.LINE, list(range(t.num_rows)), pa.int64()), "line_type"),
    "numeric as text": (lambda t: _set(t, s.HOUR, [str(v) for v in t[s.HOUR].to_pylist()], pa.string()),
                        "hour_type"),
    "duplicate departure": (lambda t: _replace_at(t, s.DEPARTURE_ID, 3, t[s.DEPARTURE_ID][2].as_py()),
                            "departure_id_unique"),
    "null t_pred": (lambda t: _replace_at(t, s.T_PRED, 3, None), "t_pred_not_null"),
    "hour 24": (lambda t: _replace_at(t, s.HOUR, 3, 24), "hour_in_range"),
    "weekday 7": (lambda t: _replace_at(t, s.WEEKDAY, 3, 7), "weekday_in_range"),
    "delay out of range": (lambda t: _replace_at(t, s.DELAY_AT_PRED, 3, 900.0), "delay_at_pred_in_range"),
    "baseline missing": (lambda t: _replace_at(t, s.PRED_PERSISTENCE, 3, None),
                         "pred_persistence_present_with_delay_at_pred"),
    "empty batch": (lambda t: t.slice(0, 0), "row_count"),
}


@pytest.mark.parametrize("case", sorted(FEATURE_BREAKS))
def test_feature_suite_fails_on_broken_copy(params: Params, case: str) -> None:
    breaker, rule = FEATURE_BREAKS[case]
    failed = _failed(_check_features(params, breaker(good_features())))
    assert rule in failed, failed
