"""The GX adapter: real Great Expectations over tiny frames, results as plain Python data."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pyarrow as pa
import pytest

from pipelines.validation.gx_adapter import validate
from pipelines.validation.suites import Rule, SuiteSpec

pytestmark = pytest.mark.data

ID = "row_id"


def _frame(delays: list[int | None], scheduled: list[int | None], names: list[str | None]) -> pd.DataFrame:
    table = pa.table({"delay": pa.array(delays, pa.int16()), "scheduled": pa.array(scheduled, pa.int64()),
                      "name": pa.array(names, pa.string())})
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    df[ID] = range(len(df))
    return df


SUITE = SuiteSpec("probe", (
    Rule("rows", "ExpectTableRowCountToBeBetween", options=(("min_value", 1),)),
    Rule("delay_type", "ExpectColumnTypeToBe", "delay", (("type_", ("int16[pyarrow]",)),)),
    Rule("delay_in_range", "ExpectColumnValuesToBeBetween", "delay",
         (("min_value", -30), ("max_value", 600))),
    Rule("delay_with_scheduled", "ExpectColumnValuesToNotBeNull", "delay", when_present="scheduled"),
    Rule("delay_without_scheduled", "ExpectColumnValuesToBeNull", "delay", when_absent="scheduled"),
    Rule("name_mostly", "ExpectColumnValuesToNotBeNull", "name", (("mostly", 0.5),)),
    Rule("name_unique", "ExpectColumnValuesToBeUnique", "name"),
))


def _by_name(result):
    return {o.name: o for o in result.outcomes}


def test_good_frame_passes_and_results_are_plain_python() -> None:
    result = validate(_frame([1, 2, None], [10, 20, None], ["a", "b", "c"]), SUITE, ID)
    assert result.success and result.rows == 3
    assert [o.name for o in result.outcomes] == [r.name for r in SUITE.rules]   # suite order, not GX's
    assert _by_name(result)["rows"].observed == 3
    assert _by_name(result)["delay_type"].observed == "int16[pyarrow]"
    json.dumps([o.__dict__ for o in result.outcomes])   # no numpy or pandas scalars leak out


def test_failing_rows_are_identified_by_the_id_column() -> None:
    df = _frame([1, 700, None, 5], [10, 20, 30, None], ["a", "a", None, "d"])
    out = _by_name(validate(df, SUITE, ID))
    assert out["delay_in_range"].failing_ids == (1,) and out["delay_in_range"].failing_values == (700.0,)
    assert out["delay_in_range"].unexpected_share == pytest.approx(0.25)
    assert out["delay_with_scheduled"].failing_ids == (2,)        # row condition: scheduled not null
    assert out["delay_without_scheduled"].failing_ids == (3,)     # row condition: scheduled null
    assert sorted(out["name_unique"].failing_ids) == [0, 1]
    # `mostly` lets the rule pass while still naming the row that broke it.
    assert out["name_mostly"].success and out["name_mostly"].failing_ids == (2,)


def test_wrong_type_and_missing_column_fail_at_table_level() -> None:
    df = _frame([1], [10], ["a"])
    df["delay"] = df["delay"].astype("int64[pyarrow]")
    out = _by_name(validate(df, SUITE, ID))
    assert not out["delay_type"].success and out["delay_type"].observed == "int64[pyarrow]"
    out = _by_name(validate(df.drop(columns=["name"]), SUITE, ID))
    assert not out["name_unique"].success and "name" in out["name_unique"].error


def test_type_rule_accepts_any_listed_dtype() -> None:
    suite = SuiteSpec("types", (Rule("n_type", "ExpectColumnTypeToBe", "n",
                                     (("type_", ("double[pyarrow]", "int64[pyarrow]")),)),))
    for values, ok in (([1.5], True), ([1], True), (["x"], False)):
        df = pa.table({"n": values}).to_pandas(types_mapper=pd.ArrowDtype)
        df[ID] = range(len(df))
        assert validate(df, suite, ID).success is ok


def test_empty_frame_fails_only_on_row_count() -> None:
    result = validate(_frame([], [], []), SUITE, ID)
    failed = [o.name for o in result.outcomes if not o.success]
    assert failed == ["rows"]      # row-level rules pass vacuously: the row count rule is the guard


def test_gx_logging_is_silenced() -> None:
    validate(_frame([1], [1], ["a"]), SUITE, ID)
    assert logging.getLogger("great_expectations").getEffectiveLevel() >= logging.WARNING
