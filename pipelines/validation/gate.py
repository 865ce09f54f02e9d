"""The validation gate shared by validate_snapshots and validate_features.

A batch passes when every table-level rule holds and the share of rows failing a row-level rule
stays at or under validation.max_failing_share; failing rows are quarantined either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s
from pipelines.config import Params, Validation
from pipelines.datasets import quarantine_file
from pipelines.datasets import verdict_file as ledger_file
from pipelines.errors import StageError
from pipelines.storage import Layout, atomic_path, read_json, read_table, write_json, write_parquet
from pipelines.validation import report as validation_report
from pipelines.validation.gx_adapter import ValidationResult, validate
from pipelines.validation.suites import SuiteSpec


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame that keeps Arrow types and nulls exactly, plus a ROW_ID position column."""
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    df[s.ROW_ID] = range(len(df))
    return df


def failing_ids(result: ValidationResult) -> set[int]:
    """Row ids failing at least one row-level rule."""
    return {i for o in result.outcomes if o.row_level for i in o.failing_ids}


def blocking_rules(result: ValidationResult, suite: SuiteSpec, rows: int,
                   validation: Validation) -> list[str]:
    """Rules that fail the batch: table-level failures, errors, a missed `mostly`, too many bad rows."""
    has_mostly = {r.name for r in suite.rules if "mostly" in dict(r.options)}
    blocking = [o.name for o in result.outcomes
                if not o.success and (not o.row_level or o.error or o.name in has_mostly)]
    share = len(failing_ids(result)) / rows if rows else 0.0
    if share > validation.max_failing_share:
        blocking += [o.name for o in result.outcomes
                     if o.row_level and o.unexpected_count and o.name not in blocking]
    return blocking


def quarantine_table(keys: pa.Table, result: ValidationResult) -> pa.Table:
    """One row per (failing row, rule): the row's key columns and the rule, sorted."""
    parts = []
    for o in result.outcomes:
        if o.row_level and o.failing_ids:
            part = keys.take(pa.array(sorted(o.failing_ids), pa.int64()))
            parts.append(part.append_column(s.RULE, pa.array([o.name] * len(part), pa.string())))
    if not parts:
        return keys.schema.append(pa.field(s.RULE, pa.string())).empty_table()
    table = pa.concat_tables(parts)
    order = [(c, "ascending") for c in table.column_names]
    return table.take(pc.sort_indices(table, sort_keys=order))   # nulls sort last by default


def failing_samples(keys: pa.Table, result: ValidationResult, limit: int) -> dict[str, list[dict[str, Any]]]:
    """The first `limit` failing rows per rule (key columns and the failing value), for the report."""
    samples: dict[str, list[dict[str, Any]]] = {}
    for o in result.outcomes:
        if o.row_level and o.failing_ids:
            pairs = sorted(zip(o.failing_ids, o.failing_values, strict=True), key=lambda p: p[0])[:limit]
            rows = keys.take(pa.array([i for i, _ in pairs], pa.int64())).to_pylist()
            samples[o.name] = [{**{k: str(v) for k, v in row.items()}, f"value of {o.column}": str(value)}
                               for row, (_, value) in zip(rows, pairs, strict=True)]
    return samples


def report_file(layout: Layout, prefix: str, day: dt.date) -> Path:
    """reports/validation/<prefix>-<day>.html"""
    return layout.dataset("reports") / "validation" / f"{prefix}-{day:%Y-%m-%d}.html"


def run_gate(params: Params, layout: Layout, stage: str, prefix: str, day: dt.date, table: pa.Table,
             suite: SuiteSpec, key_columns: tuple[str, ...]) -> dict[str, Any]:
    """Validate one batch; write quarantine, report and ledger; raise StageError if it failed."""
    df = to_frame(table)
    result = validate(df, suite, s.ROW_ID)
    keys = table.select([c for c in key_columns if c in table.column_names])
    rows, failing = len(df), len(failing_ids(result))
    blocking = blocking_rules(result, suite, rows, params.validation)
    quarantine = quarantine_table(keys, result)
    quarantine_path = quarantine_file(layout, stage, day)
    write_parquet(quarantine, quarantine_path)
    report = report_file(layout, prefix, day)
    summary = {
        "day": day.isoformat(), "verdict": "failed" if blocking else "passed", "rows": rows,
        "failing_rows": failing, "failing_share": round(failing / rows, 6) if rows else 0.0,
        "threshold": params.validation.max_failing_share, "failed_expectations": blocking,
        "quarantined_by_rule": {o.name: o.unexpected_count for o in result.outcomes if o.failing_ids},
        "report": str(report.relative_to(layout.data)),
        "quarantine": str(quarantine_path.relative_to(layout.data)),
    }
    page = validation_report.render(f"{stage} {day:%Y-%m-%d}", summary, result,
                                    failing_samples(keys, result, validation_report.SAMPLE_ROWS))
    with atomic_path(report) as tmp:
        tmp.write_text(page)
    write_json(summary, ledger_file(layout, stage, day))
    if blocking:
        raise StageError(f"{stage} {day:%Y-%m-%d}: batch failed validation on {', '.join(blocking)} "
                         f"({failing} of {rows} rows failing); open the report {report}")
    return summary


def passed(layout: Layout, stage_name: str, day: dt.date) -> bool:
    """True when validation stage `stage_name` ran for `day` and its batch passed."""
    path = ledger_file(layout, stage_name, day)
    return path.exists() and read_json(path).get("verdict") == "passed"


def quarantined_keys(layout: Layout, stage_name: str, day: dt.date) -> pa.Table | None:
    """Distinct key columns of the rows quarantined by `stage_name` for `day` (None if it never ran)."""
    path = quarantine_file(layout, stage_name, day)
    if not path.exists():
        return None
    table = read_table(path)
    keys = table.drop_columns([s.RULE])
    return keys.group_by(keys.column_names, use_threads=False).aggregate([])


def run_days(run: Callable[[Params, Layout, dt.date], dict[str, Any]], params: Params, layout: Layout,
             days: list[dt.date]) -> dict[str, Any]:
    """Gate every day (one bad day must not hide the verdicts of the others), then fail if any failed."""
    results, errors = [], []
    for day in days:
        try:
            results.append(run(params, layout, day))
        except StageError as exc:
            errors.append(str(exc))
    if errors:
        raise StageError(f"{len(errors)} of {len(days)} day(s) failed validation:\n" + "\n".join(errors))
    return results[0] if len(results) == 1 else {"days": results}
