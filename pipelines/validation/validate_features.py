"""Stage validate_features: the Great Expectations gate over the features of one service date."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import pyarrow as pa

from pipelines import schema as s
from pipelines.cli_args import add_day_arguments, days_from_args
from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.storage import Layout, read_table
from pipelines.validation.gate import (
    passed,
    quarantined_keys,
    run_days,
    run_gate,
)
from pipelines.validation.suites import feature_suite

STAGE = "validate_features"
__all__ = ["STAGE", "add_arguments", "main", "passed", "quarantined_keys", "run", "validate_table"]


def validate_table(params: Params, layout: Layout, day: dt.date, table: pa.Table) -> dict[str, Any]:
    """Gate an in-memory features table as the batch of service date `day`."""
    suite = feature_suite(params.validation)
    return run_gate(params, layout, STAGE, "features", day, table, suite, (s.DEPARTURE_ID,))


def run(params: Params, layout: Layout, day: dt.date) -> dict[str, Any]:
    """Validate features/<day>.parquet; raise StageError when it is missing or the batch fails."""
    path = layout.day_file("features", day)
    if not path.exists():
        raise StageError(f"{STAGE} {day:%Y-%m-%d}: no features at {path}; run build_features first")
    return validate_table(params, layout, day, read_table(path))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """CLI options: the service dates to validate."""
    add_day_arguments(parser)


def main(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    """CLI front-end: validate each named service date; fail if any of them failed."""
    return run_days(run, params, Layout(params, args.home), days_from_args(args))
