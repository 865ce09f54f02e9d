"""Stage validate_snapshots: the Great Expectations gate over the snapshots of one service date."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa

from pipelines import schema as s
from pipelines.cli_args import add_day_arguments, days_from_args
from pipelines.config import Params
from pipelines.datasets import read_service_date_snapshots
from pipelines.storage import Layout
from pipelines.validation.gate import (
    passed,
    quarantined_keys,
    run_days,
    run_gate,
)
from pipelines.validation.suites import snapshot_suite

STAGE = "validate_snapshots"
__all__ = ["STAGE", "add_arguments", "main", "passed", "quarantined_keys", "run", "validate_table",
           "with_row_key"]


def with_row_key(table: pa.Table) -> pa.Table:
    """Append ROW_KEY, a 64-bit hash of the compound SNAPSHOT_KEY, so GX can check uniqueness."""
    columns = {}
    for name in (c for c in s.SNAPSHOT_KEY if c in table.column_names):
        column = table[name]
        # Hash instants and dates as integers: fast, and independent of pandas' object conversion.
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_date32(column.type):
            column = column.cast(pa.int32())
        columns[name] = column
    keys = pa.table(columns).to_pandas()
    hashed = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    return table.append_column(s.ROW_KEY, pa.array(hashed, pa.uint64()))


def validate_table(params: Params, layout: Layout, day: dt.date, table: pa.Table) -> dict[str, Any]:
    """Gate an in-memory snapshots table as the batch of service date `day`."""
    suite = snapshot_suite(params.validation)
    return run_gate(params, layout, STAGE, "snapshots", day, with_row_key(table), suite, s.SNAPSHOT_KEY)


def run(params: Params, layout: Layout, day: dt.date) -> dict[str, Any]:
    """Validate the snapshots of service date `day`; raise StageError when the batch fails."""
    return validate_table(params, layout, day, read_service_date_snapshots(params, layout, day))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """CLI options: the service dates to validate."""
    add_day_arguments(parser)


def main(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    """CLI front-end: validate each named service date; fail if any of them failed."""
    return run_days(run, params, Layout(params, args.home), days_from_args(args))
