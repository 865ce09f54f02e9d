"""Great Expectations 1.x behind one function: a SuiteSpec in, plain Python results out.

This is the only module that imports great_expectations; an upgrade of GX touches this file alone.
GX is imported lazily (about 6 s) and its ephemeral context is built once per process.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from pipelines.validation.suites import Rule, SuiteSpec

RULE_META = "railcast_rule"   # expectation meta key carrying our rule name (GX reorders results)
SCHEMA_EXPECTATIONS = ("ExpectColumnTypeToBe", "ExpectTableColumnsToMatchSet", "ExpectColumnToExist")


@dataclass(frozen=True)
class Outcome:
    """The verdict of one rule over one batch."""

    name: str
    expectation: str
    column: str | None
    row_level: bool
    success: bool
    unexpected_count: int
    unexpected_share: float          # share of all rows of the batch
    failing_ids: tuple[int, ...]     # id_column values of the failing rows
    failing_values: tuple[Any, ...]  # the failing values, aligned with failing_ids
    observed: Any
    error: str | None = None


@dataclass(frozen=True)
class ValidationResult:
    """All outcomes of a suite over a batch, in suite order."""

    suite: str
    rows: int
    success: bool
    outcomes: tuple[Outcome, ...]


@functools.cache
def _batch_definition() -> Any:
    """The whole-dataframe batch definition of a process-wide ephemeral context."""
    # GX logs hundreds of INFO lines ("Skipping registering function ...") while importing.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every pandas batch by hashing all of it (3 s per 1M snapshot rows) only to
    # label the batch; frames above this memory size are not hashed, so make that every frame.
    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.enable_analytics(False)
    asset = context.data_sources.add_pandas("pandas").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole")


def _expectation(rule: Rule, df: pd.DataFrame) -> Any:
    """Instantiate the GX expectation for `rule`."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    kwargs = dict(rule.options)
    if isinstance(kwargs.get("type_"), tuple):
        # A tuple lists acceptable dtypes: ask GX for the one the column has (else the first), so
        # GX still decides, and reports the observed dtype when none matches.
        allowed = kwargs["type_"]
        observed = str(df[rule.column].dtype) if rule.column in df.columns else None
        kwargs["type_"] = observed if observed in allowed else allowed[0]
    if rule.column is not None:
        kwargs["column"] = rule.column
    if rule.when_present:
        kwargs["row_condition"] = Column(rule.when_present).is_not_null()
    if rule.when_absent:
        kwargs["row_condition"] = Column(rule.when_absent).is_null()
    return getattr(gxe, rule.expectation)(meta={RULE_META: rule.name}, **kwargs)


def _plain(value: Any) -> Any:
    """JSON-able Python data from GX/numpy/pandas values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA or isinstance(value, bool | int | float | str):
        return None if value is pd.NA else value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _error_message(info: dict[str, Any]) -> str | None:
    """The exception GX caught, if any: flat for expectation errors, keyed by metric for metric errors."""
    if "raised_exception" in info:
        return info["exception_message"] if info["raised_exception"] else None
    messages = sorted({str(v.get("exception_message")) for v in info.values() if isinstance(v, dict)})
    return "; ".join(messages) or None


def _outcome(rule: Rule, gx_result: Any, rows: int, id_column: str) -> Outcome:
    result = gx_result.result or {}
    error = _error_message(gx_result.exception_info or {})
    index_list = result.get("unexpected_index_list") or []
    ids = tuple(int(item[id_column]) for item in index_list)
    values = tuple(_plain(item.get(rule.column)) for item in index_list) if rule.column else ()
    count = int(result.get("unexpected_count") or 0)
    # For a column-set rule the useful observation is what is missing, not every column present.
    observed = (result.get("details") or {}).get("mismatched") or result.get("observed_value")
    return Outcome(
        name=rule.name, expectation=gx_result.expectation_config.type, column=rule.column,
        row_level=rule.row_level, success=bool(gx_result.success) and error is None,
        unexpected_count=count, unexpected_share=count / rows if rows else 0.0,
        failing_ids=ids, failing_values=values, observed=_plain(observed), error=error,
    )


def _numpy_backed(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns row-level rules need, numbers as numpy so GX takes its vectorized paths."""
    out = df[columns].copy()
    for name in columns:
        dtype = out[name].dtype
        arrow_type = getattr(dtype, "pyarrow_dtype", None)
        if arrow_type is None or not (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)):
            continue
        # GX compares Arrow-backed numbers one by one in Python (3 s per 1M rows), numpy ones at once.
        has_nulls = bool(out[name].isna().any())
        if has_nulls and pa.types.is_integer(arrow_type) and arrow_type.bit_width > 32:
            continue   # float64 would round such integers: keep them exact, and slow
        out[name] = out[name].to_numpy(dtype="float64" if has_nulls else None, na_value=float("nan"))
    return out


def _run_rules(df: pd.DataFrame, rules: list[Rule], name: str, id_column: str, rows: int) -> list[Outcome]:
    """Validate `rules` over `df` with GX; outcomes in rule order."""
    batch_definition = _batch_definition()   # first: a suite needs an active context
    import great_expectations as gx

    gx_suite = gx.ExpectationSuite(name=name)
    for rule in rules:
        gx_suite.add_expectation(_expectation(rule, df))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [id_column]}
    checked = batch.validate(gx_suite, result_format=result_format)
    by_rule = {r.expectation_config.meta[RULE_META]: r for r in checked.results}
    return [_outcome(rule, by_rule[rule.name], rows, id_column) for rule in rules]


def validate(df: pd.DataFrame, suite: SuiteSpec, id_column: str) -> ValidationResult:
    """Validate `df` against `suite`; failing rows are identified by their `id_column` values."""
    schema_rules = [r for r in suite.rules if r.expectation in SCHEMA_EXPECTATIONS]
    data_rules = [r for r in suite.rules if r.expectation not in SCHEMA_EXPECTATIONS]
    # Schema rules read dtypes only: they get no rows. Data rules get only the columns they read,
    # because GX copies every column of the batch for each row-conditioned rule.
    outcomes = _run_rules(df.iloc[:0], schema_rules, f"{suite.name}-schema", id_column, len(df))
    used = {c for r in data_rules for c in (r.column, r.when_present, r.when_absent) if c}
    columns = [c for c in df.columns if c in used or c == id_column]
    outcomes += _run_rules(_numpy_backed(df, columns), data_rules, suite.name, id_column, len(df))
    by_name = {o.name: o for o in outcomes}
    ordered = tuple(by_name[r.name] for r in suite.rules)
    return ValidationResult(suite.name, len(df), all(o.success for o in ordered), ordered)
