"""Stage `simulate`: ground truth, snapshots and polls of a past interval through the simulator's bulk path.

Writes `truth/<service date>.parquet` for the Berlin days overlapping [start, end) and
`snapshots/` + `polls/` for every UTC hour in [start, end) (empty hours too, so readers can tell
"no trains" from "not generated"). Intervals should start and end on whole hours.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines import schema as s
from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.sources.simulator.bulk import bulk_interval
from pipelines.sources.simulator.source import TruthSource, network_source
from pipelines.storage import Layout, write_parquet
from pipelines.timeutil import hours_between, local_midnight_utc, parse_date, parse_instant, service_date_of

US_PER_HOUR = 3_600_000_000


def overlapping_days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """Berlin calendar days that overlap [start, end)."""
    day, out = service_date_of(start), []
    while local_midnight_utc(day) < end:
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def split_hours(table: pa.Table, hours: list[dt.datetime]) -> dict[dt.datetime, pa.Table]:
    """Rows of `table` per UTC hour of their poll_time (row order kept); every hour of `hours` present."""
    us = table[s.POLL_TIME].cast(pa.int64()).to_numpy(zero_copy_only=False)
    hour_of = us // US_PER_HOUR
    return {
        h: table.take(pa.array(np.flatnonzero(hour_of == int(h.timestamp()) * 1_000_000 // US_PER_HOUR)))
        for h in hours
    }


def _truth_table(frame: Any) -> pa.Table:
    """Truth rows sorted by (run_id, stop_seq): a stable order gives identical bytes on re-run."""
    frame = frame.sort_values([s.RUN_ID, s.STOP_SEQ], kind="stable").reset_index(drop=True)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _write_hours(
    params: Params, layout: Layout, source: TruthSource, lo: dt.datetime, hi: dt.datetime, faults: bool
) -> dict[str, int]:
    """Snapshot and poll partitions of every UTC hour in [lo, hi); their row counts."""
    snapshots, polls = bulk_interval(params, source, lo, hi, faults=faults)
    hours = hours_between(lo, hi)
    for name, table in (("snapshots", snapshots), ("polls", polls)):
        for hour, part in split_hours(table, hours).items():
            write_parquet(part, layout.hour_file(name, hour))
    failed = int(np.sum(polls[s.POLL_STATUS].to_numpy(zero_copy_only=False) == "failed"))
    return {"snapshots": snapshots.num_rows, "polls": polls.num_rows, "failed_polls": failed}


def run(
    params: Params,
    layout: Layout,
    start: dt.datetime,
    end: dt.datetime,
    scenario: str | None = None,
    faults: bool = True,
    source: TruthSource | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Write truth days, snapshot and poll hours of [start, end); `source` defaults to the truth engine."""
    if end <= start:
        raise StageError(f"empty interval [{start}, {end}); end must be after start")
    source = source or network_source(params, scenario)
    days = overlapping_days(start, end)
    for day in days:
        write_parquet(_truth_table(source.day(day)), layout.day_file("truth", day))
    counts = {"snapshots": 0, "polls": 0, "failed_polls": 0}
    for day in days:  # one day at a time keeps memory flat and gives progress
        lo, hi = max(start, local_midnight_utc(day)), min(end, local_midnight_utc(day + dt.timedelta(days=1)))
        day_counts = _write_hours(params, layout, source, lo, hi, faults)
        counts = {k: counts[k] + day_counts[k] for k in counts}
        if progress:
            progress(
                f"simulate {day}: {day_counts['snapshots']} snapshot rows, "
                f"{day_counts['polls']} polls ({day_counts['failed_polls']} failed)"
            )
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "scenario": scenario or params.simulation.scenario,
        "faults": faults,
        "truth_days": [d.isoformat() for d in days],
        "hours": len(hours_between(start, end)),
        **counts,
    }


def _chunk(job: tuple[Params, Layout, dt.datetime, dt.datetime, str | None, bool]) -> dict:
    """One worker's share of `run_parallel`: a plain `run` over whole Berlin days."""
    params, layout, start, end, scenario, faults = job
    return run(params, layout, start, end, scenario=scenario, faults=faults,
               progress=lambda line: print(line, file=sys.stderr, flush=True))


def run_parallel(params: Params, layout: Layout, start: dt.datetime, end: dt.datetime,
                 scenario: str | None = None, faults: bool = True, workers: int = 2) -> dict:
    """`run` split into contiguous runs of whole days over `workers` processes: the same files, sooner.

    Every day is simulated from its own seed, independent of the others
    (tests/sources/test_simulator_truth.py), and written to its own partitions, so the split changes
    nothing but the wall time.
    """
    days = overlapping_days(start, end)
    workers = max(1, min(workers, len(days)))
    if workers == 1:
        return run(params, layout, start, end, scenario=scenario, faults=faults,
                   progress=lambda line: print(line, file=sys.stderr, flush=True))
    cuts = [days[round(i * len(days) / workers)] for i in range(workers)]
    bounds = [max(start, local_midnight_utc(d)) for d in cuts] + [end]
    jobs = [(params, layout, lo, hi, scenario, faults)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    # spawn, not fork: DuckDB and Arrow thread pools must not be copied mid-flight into a child.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_chunk, jobs)
    counts = {k: sum(part[k] for part in parts) for k in ("snapshots", "polls", "failed_polls")}
    return {**parts[0], "end": end.isoformat(), "truth_days": [d.isoformat() for d in days],
            "hours": len(hours_between(start, end)), **counts, "workers": workers}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast simulate`."""
    parser.add_argument("--start-date", help="first Berlin day (default: simulation.start_date)")
    parser.add_argument("--days", type=int, help="number of days (default: simulation.days)")
    parser.add_argument("--start", help="interval start, ISO instant (instead of --start-date/--days)")
    parser.add_argument("--end", help="interval end, ISO instant (with --start)")
    parser.add_argument("--scenario", help="scenario of params.yaml (default: simulation.scenario)")
    parser.add_argument("--no-faults", dest="faults", action="store_false", help="no failed polls, no jitter")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes sharing the days (default: 2 or the CPU count if lower)")


def interval_of(args: argparse.Namespace, params: Params) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) from --start/--end or from --start-date and --days (Berlin days)."""
    if args.start or args.end:
        if not (args.start and args.end):
            raise StageError("--start and --end go together")
        return parse_instant(args.start), parse_instant(args.end)
    first = parse_date(args.start_date or params.simulation.start_date)
    days = args.days if args.days is not None else params.simulation.days
    return local_midnight_utc(first), local_midnight_utc(first + dt.timedelta(days=days))


def main(args: argparse.Namespace, params: Params) -> dict:
    """CLI front-end of `railcast simulate`."""
    start, end = interval_of(args, params)
    return run_parallel(params, Layout(params, args.home), start, end, scenario=args.scenario,
                        faults=args.faults, workers=args.workers)
