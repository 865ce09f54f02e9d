"""Unit tests of the gate's pure decisions on hand-made results (no GX run)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipelines import schema as s
from pipelines.config import Validation
from pipelines.validation.gate import blocking_rules, failing_ids, quarantine_table
from pipelines.validation.gx_adapter import Outcome, ValidationResult
from pipelines.validation.suites import Rule, SuiteSpec

pytestmark = pytest.mark.unit

SUITE = SuiteSpec("unit", (
    Rule("rows", "ExpectTableRowCountToBeBetween", options=(("min_value", 1),)),
    Rule("a_range", "ExpectColumnValuesToBeBetween", "a", (("min_value", 0), ("max_value", 9))),
    Rule("b_mostly", "ExpectColumnValuesToNotBeNull", "b", (("mostly", 0.9),)),
))
LIMITS = Validation(max_failing_share=0.1, min_rows=1, delay_min=-30, delay_max=600)


def _outcome(name: str, success: bool, ids: tuple[int, ...] = (), row_level: bool = True,
             error: str | None = None) -> Outcome:
    return Outcome(name, "x", None, row_level, success, len(ids), len(ids) / 100, ids, (None,) * len(ids),
                   None, error)


def _result(*outcomes: Outcome) -> ValidationResult:
    return ValidationResult("unit", 100, all(o.success for o in outcomes), outcomes)


@pytest.mark.parametrize(("outcomes", "expected"), [
    ((_outcome("rows", True, row_level=False), _outcome("a_range", False, tuple(range(10)))), []),
    ((_outcome("rows", True, row_level=False), _outcome("a_range", False, tuple(range(11)))), ["a_range"]),
    ((_outcome("rows", False, row_level=False), _outcome("a_range", True)), ["rows"]),
    ((_outcome("a_range", False, (1,), error="column a missing"),), ["a_range"]),
    ((_outcome("b_mostly", False, (1, 2)),), ["b_mostly"]),                      # its own threshold
    ((_outcome("b_mostly", True, (1, 2)), _outcome("a_range", False, tuple(range(3, 12)))),
     ["b_mostly", "a_range"]),                                                   # 11 distinct rows > 10%
])
def test_blocking_rules(outcomes: tuple[Outcome, ...], expected: list[str]) -> None:
    assert blocking_rules(_result(*outcomes), SUITE, 100, LIMITS) == expected


def test_rows_failing_two_rules_count_once_and_appear_once_per_rule() -> None:
    result = _result(_outcome("a_range", False, (3, 1)), _outcome("b_mostly", True, (1,)))
    assert failing_ids(result) == {1, 3}
    keys = pa.table({s.DEPARTURE_ID: [f"d{i}" for i in range(5)]})
    table = quarantine_table(keys, result)
    assert table.to_pylist() == [{s.DEPARTURE_ID: "d1", s.RULE: "a_range"},
                                 {s.DEPARTURE_ID: "d1", s.RULE: "b_mostly"},
                                 {s.DEPARTURE_ID: "d3", s.RULE: "a_range"}]
    assert quarantine_table(keys, _result()).schema.names == [s.DEPARTURE_ID, s.RULE]
