"""The expectation suites as data: which column, which rule, which parameters (no GX import here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from pipelines import schema as s
from pipelines.config import Validation

OTHER_CATEGORY = "OTHER"             # category of a train whose prefix is not a known class
TRAIN_NUMBER_MOSTLY = 0.99           # the API omits trainNumber rarely; more than 1% is a broken feed
NUMERIC_TYPES = ("double", "float", "int64", "int32", "int16", "int8")
STRING_TYPES = ("string", "large_string")


@dataclass(frozen=True)
class Rule:
    """One expectation: a GX expectation class name, its column and its parameters."""

    name: str
    expectation: str
    column: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    when_present: str | None = None   # apply only to rows where this column is not null
    when_absent: str | None = None    # apply only to rows where this column is null

    @property
    def row_level(self) -> bool:
        """True when failures point at rows (these rows are quarantined), not at the table."""
        return self.expectation.startswith("ExpectColumnValues")


@dataclass(frozen=True)
class SuiteSpec:
    """A named list of rules validated together over one batch."""

    name: str
    rules: tuple[Rule, ...]


def arrow_dtype_name(arrow_type: pa.DataType) -> str:
    """The pandas dtype name of an Arrow type in a frame converted with pandas.ArrowDtype."""
    return f"{arrow_type}[pyarrow]"


def _type_rule(column: str, *type_names: str) -> Rule:
    allowed = tuple(name if name.endswith("[pyarrow]") else f"{name}[pyarrow]" for name in type_names)
    return Rule(f"{column}_type", "ExpectColumnTypeToBe", column, (("type_", allowed),))


def _not_null(column: str, mostly: float | None = None) -> Rule:
    options = (("mostly", mostly),) if mostly is not None else ()
    return Rule(f"{column}_not_null", "ExpectColumnValuesToNotBeNull", column, options)


def _between(column: str, low: float, high: float) -> Rule:
    options = (("min_value", low), ("max_value", high))
    return Rule(f"{column}_in_range", "ExpectColumnValuesToBeBetween", column, options)


def _present_with(column: str, event: str) -> tuple[Rule, Rule]:
    """`column` is null exactly where `event` is null (the API's delay semantics)."""
    return (
        Rule(f"{column}_present_with_{event}", "ExpectColumnValuesToNotBeNull", column, when_present=event),
        Rule(f"{column}_absent_without_{event}", "ExpectColumnValuesToBeNull", column, when_absent=event),
    )


def _row_count(min_rows: int) -> Rule:
    # Row-level rules pass vacuously on an empty batch: only this rule makes an empty batch fail.
    return Rule("row_count", "ExpectTableRowCountToBeBetween", options=(("min_value", min_rows),))


def _columns_present(columns: tuple[str, ...]) -> Rule:
    options = (("column_set", list(columns)), ("exact_match", False))
    return Rule("columns_present", "ExpectTableColumnsToMatchSet", options=options)


def snapshot_suite(validation: Validation) -> SuiteSpec:
    """Rules for a batch of snapshots; expects the ROW_KEY column built from SNAPSHOT_KEY."""
    schema_rules = [_type_rule(f.name, arrow_dtype_name(f.type)) for f in s.SNAPSHOT_SCHEMA]
    required = (s.STATION, s.POLL_TIME, s.SERVICE_DATE, s.TRAIN, s.DESTINATION, s.IS_CANCELLED,
                s.MISSING_REALTIME)
    categories = list(s.CATEGORIES) + [OTHER_CATEGORY]
    rules = [
        _row_count(validation.min_rows),
        _columns_present(tuple(s.SNAPSHOT_SCHEMA.names)),
        *schema_rules,
        *(_not_null(c) for c in required),
        _not_null(s.TRAIN_NUMBER, TRAIN_NUMBER_MOSTLY),
        Rule("category_known", "ExpectColumnValuesToBeInSet", s.CATEGORY, (("value_set", categories),)),
        _between(s.DELAY_DEPARTURE, validation.delay_min, validation.delay_max),
        _between(s.DELAY_ARRIVAL, validation.delay_min, validation.delay_max),
        *_present_with(s.DELAY_DEPARTURE, s.SCHEDULED_DEPARTURE),
        *_present_with(s.DELAY_ARRIVAL, s.SCHEDULED_ARRIVAL),
        Rule("snapshot_key_unique", "ExpectColumnValuesToBeUnique", s.ROW_KEY),
    ]
    return SuiteSpec("snapshots", tuple(rules))


def feature_suite(validation: Validation) -> SuiteSpec:
    """Rules for a batch of features, one row per departure."""
    numeric = s.FEATURE_NUMERIC + s.BASELINES
    type_rules = [
        _type_rule(s.DEPARTURE_ID, *STRING_TYPES),
        _type_rule(s.SERVICE_DATE, arrow_dtype_name(pa.date32())),
        _type_rule(s.T_PRED, arrow_dtype_name(s.TS)),
        *(_type_rule(c, *NUMERIC_TYPES) for c in numeric),
        *(_type_rule(c, *STRING_TYPES) for c in s.FEATURE_CATEGORICAL),
    ]
    baselines = [Rule(f"{b}_present_with_{s.DELAY_AT_PRED}", "ExpectColumnValuesToNotBeNull", b,
                      when_present=s.DELAY_AT_PRED) for b in s.BASELINES]
    rules = [
        _row_count(validation.min_rows),
        _columns_present((s.DEPARTURE_ID, s.SERVICE_DATE, s.T_PRED, *s.FEATURES, *s.BASELINES)),
        *type_rules,
        _not_null(s.DEPARTURE_ID),
        Rule(f"{s.DEPARTURE_ID}_unique", "ExpectColumnValuesToBeUnique", s.DEPARTURE_ID),
        _not_null(s.T_PRED),
        _between(s.HOUR, 0, 23),
        _between(s.WEEKDAY, 0, 6),
        _between(s.DELAY_AT_PRED, validation.delay_min, validation.delay_max),
        *baselines,
    ]
    return SuiteSpec("features", tuple(rules))
