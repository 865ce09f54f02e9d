"""Stage detect_departures: decide the departures of one closed service date from snapshot sessions.

Reads the snapshot hours of the service date straight from Parquet in DuckDB (only the columns
detection needs), minus the rows validate_snapshots quarantined, and the polls of the same hours.
Refuses to run unless the validation ledger of the day passed. Writes `departures/<day>.parquet`;
when simulator truth exists, also `metrics/detect_departures/<day>.json` (truth is read for nothing else).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import datasets
from pipelines import schema as s
from pipelines.cli_args import add_day_arguments, days_from_args
from pipelines.config import Params
from pipelines.detection.departure_metrics import compare, score_departures, summarize
from pipelines.detection.sessionize import INPUT_COLUMNS, Window, connect, detect_in
from pipelines.errors import StageError
from pipelines.storage import Layout, duckdb_view, read_table, write_json, write_parquet
from pipelines.validation import validate_snapshots

STAGE = "detect_departures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast detect_departures`."""
    add_day_arguments(parser)  # each service date must have passed validate_snapshots
    parser.add_argument("--metrics-file", default=None,
                        help="also write the pooled departure metrics of all the dates here (DVC metrics)")


def main(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    """CLI front-end: decide each named service date in order, then pool the metrics if asked."""
    layout = Layout(params, args.home)
    days = days_from_args(args)
    results = [run(params, layout, day) for day in days]
    out: dict[str, Any] = results[0] if len(results) == 1 else {"days": results}
    if args.metrics_file:
        out["pooled"] = pooled_metrics(params, layout, days)
        write_json(out["pooled"], Path(args.metrics_file))
    return out


def pooled_metrics(params: Params, layout: Layout, days: list[dt.date]) -> dict[str, Any]:
    """Departure metrics over all `days` with truth (pooled errors, not an average of daily percentiles)."""
    parts = []
    for day in days:
        truth_file = layout.day_file("truth", day)
        if not truth_file.exists():
            continue
        hours = datasets.service_date_hours(params, day)
        polls = datasets.read_hours(layout, "polls", hours, s.POLLS_SCHEMA)
        stations = sorted(set(polls[s.STATION].to_pylist()))
        departures = read_table(layout.day_file("departures", day))
        parts.append(compare(departures, read_table(truth_file), stations, day))
    if not parts:
        raise StageError("no simulator truth for these dates: departure metrics need "
                         "`railcast simulate` data")
    return {"days": len(parts), **summarize(parts)}


def validation_gate(layout: Layout, day: dt.date) -> pa.Table:
    """Quarantined snapshot keys of `day`; StageError unless validate_snapshots passed the day."""
    if not validate_snapshots.passed(layout, validate_snapshots.STAGE, day):
        ledger = layout.dataset("ledger") / validate_snapshots.STAGE / f"{day}.json"
        raise StageError(f"snapshots of {day} have not passed validation (ledger {ledger}, report "
                         f"{layout.dataset('reports')}/validation/snapshots-{day}.html); fix the data and "
                         f"run `railcast validate_snapshots --date {day}` first")
    keys = validate_snapshots.quarantined_keys(layout, validate_snapshots.STAGE, day)
    if keys is None:
        return pa.schema([s.SNAPSHOT_SCHEMA.field(c) for c in s.SNAPSHOT_KEY]).empty_table()
    return keys.select(list(s.SNAPSHOT_KEY))


def define_inputs(con: Any, files: list[Path], day: dt.date, quarantined: pa.Table, polls: pa.Table) -> None:
    """Views `snaps` (the day's rows, minus quarantined keys) and `polls` in DuckDB connection `con`."""
    con.register("polls", polls)
    columns = ", ".join(INPUT_COLUMNS)
    if files:
        duckdb_view(con, "snapshot_files", files)
        source = "snapshot_files"
    else:
        con.register("no_snapshots", s.SNAPSHOT_SCHEMA.empty_table())
        source = "no_snapshots"
    where = f"{s.SERVICE_DATE} = DATE '{day.isoformat()}'"
    anti = ""
    if quarantined.num_rows:
        con.register("quarantined", quarantined)
        # IS NOT DISTINCT FROM: a row quarantined for a null key column must go too
        on = " AND ".join(f"x.{c} IS NOT DISTINCT FROM q.{c}" for c in s.SNAPSHOT_KEY)
        anti = f"ANTI JOIN quarantined q ON {on}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW snaps AS SELECT {columns} FROM {source} x {anti} WHERE {where}")


def run(params: Params, layout: Layout, day: dt.date) -> dict[str, Any]:
    """Decide the departures of closed service date `day`; write them (and metrics when truth exists)."""
    quarantined = validation_gate(layout, day)
    hours = datasets.service_date_hours(params, day)
    files = datasets.hour_files(layout, "snapshots", hours)
    polls = datasets.read_hours(layout, "polls", hours, s.POLLS_SCHEMA)
    det = params.detection
    window = Window(dt.timedelta(minutes=det.gap_min), dt.timedelta(minutes=det.grace_min),
                    datasets.close_time(params, day))
    con = connect()
    define_inputs(con, files, day, quarantined, polls)
    departures, counts = detect_in(con, window)
    con.close()
    target = write_parquet(departures, layout.day_file("departures", day))
    result: dict[str, Any] = {
        "day": day.isoformat(), "departures": str(target), "n_departures": departures.num_rows,
        "n_snapshot_rows": counts["rows"], "n_quarantined_keys": quarantined.num_rows,
        "n_cancelled": int(pc.sum(departures[s.IS_CANCELLED]).as_py() or 0),
        "n_undecided": counts.get("undecided", 0), "n_terminating": counts.get("terminating", 0),
        "n_dirty_groups": counts["dirty_groups"]}
    truth_file = layout.day_file("truth", day)
    if truth_file.exists():
        stations = sorted(set(polls[s.STATION].to_pylist()))
        metrics = score_departures(departures, read_table(truth_file), stations, day)
        result["metrics"] = str(write_json(metrics, layout.dataset("metrics") / STAGE / f"{day}.json"))
        result.update({k: metrics[k] for k in ("departure_error_p95_min", "found_share")})
    return result
