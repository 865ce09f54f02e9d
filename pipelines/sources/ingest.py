"""The `ingest` stage: normalize the raw board polls of an interval into snapshots, polls and a ledger.

`railcast ingest --start ISO --end ISO` runs the stage (it never polls);
`railcast ingest poll ...` runs the long-lived poller that fills the raw archive.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from pipelines import schema as s
from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.sources.dbf.archive import RawRead, raw_dir, read_raw_hour
from pipelines.sources.dbf.ledger import IngestLedger, check_ledger
from pipelines.sources.dbf.normalize import HourOutput, normalize_hour
from pipelines.sources.late import built_dates, late_hours, raw_size
from pipelines.storage import Layout, atomic_path, write_json, write_parquet
from pipelines.timeutil import hour_key, hours_between, parse_instant

STAGE = "ingest"


def ledger_path(layout: Layout, start: dt.datetime, end: dt.datetime) -> Path:
    """Where the ledger of interval [start, end) lives."""
    return layout.dataset("ledger") / STAGE / f"{start:%Y-%m-%dT%H%M}_{end:%Y-%m-%dT%H%M}.json"


def _write_hour(layout: Layout, hour: dt.datetime, out: HourOutput) -> None:
    write_parquet(out.snapshots, layout.hour_file("snapshots", hour))
    write_parquet(out.polls, layout.hour_file("polls", hour))
    target = layout.dataset("quarantine") / STAGE / f"{hour_key(hour)}.jsonl"
    if not out.quarantine:
        target.unlink(missing_ok=True)  # a re-run replaces the hour's output, including its absence
        return
    with atomic_path(target) as tmp:
        tmp.write_text(
            "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in out.quarantine)
        )


def run(params: Params, layout: Layout, start: dt.datetime, end: dt.datetime,
        record_gaps: bool = False, late_since: dt.datetime | None = None) -> dict[str, Any]:
    """Normalize the raw hours in [start, end); re-running an interval rewrites identical bytes.

    An hour without raw data is listed as `missing_hours` and left unwritten (its data may still come,
    and its service date is not built without it). With `record_gaps` the operator says it will not
    come (the poller was down): it gets empty snapshots and polls partitions, listed as `gaps`, so its
    date is built with the hole recorded. With `late_since`, hours ingested since then whose raw data
    grew afterwards are ingested again (`late`: the hours, and the dates already built without them)."""
    start, end = parse_instant(start), parse_instant(end)
    if end <= start:
        raise StageError(f"ingest: empty interval [{start}, {end})")
    ledger, written, missing, sizes = IngestLedger(), [], [], {}
    raw_root = layout.dataset("raw")
    for hour in hours_between(start, end):
        if not raw_dir(raw_root, hour).is_dir():
            missing.append(hour_key(hour))
            if record_gaps:
                write_parquet(s.SNAPSHOT_SCHEMA.empty_table(), layout.hour_file("snapshots", hour))
                write_parquet(s.POLLS_SCHEMA.empty_table(), layout.hour_file("polls", hour))
            continue
        sizes[hour_key(hour)] = raw_size(raw_root, hour)   # before reading: later bytes count as late
        raw = read_raw_hour(raw_root, hour, RawRead())
        ledger.raw["files"] += len(list(raw_dir(raw_root, hour).glob("*.jsonl.gz")))
        ledger.raw["lines"] += len(raw.lines)
        ledger.raw["corrupt_lines"] += len(raw.corrupt_lines)
        ledger.raw["truncated_members"] += raw.truncated_members
        _write_hour(layout, hour, normalize_hour(raw, hour, params.ingest, ledger))
        written.append(hour_key(hour))
    record = {
        "stage": STAGE,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "hours": written,
        "gaps" if record_gaps else "missing_hours": missing,
        "raw_bytes": sizes,
        **ledger.to_dict(),
    }
    problems = check_ledger(record)
    if problems:
        raise StageError(f"ingest ledger does not add up for [{start}, {end}): {'; '.join(problems)}")
    path = write_json(record, ledger_path(layout, start, end))
    return {
        "ledger": str(path),
        "hours": written,
        "gaps" if record_gaps else "missing_hours": missing,
        "polls": record["polls"],
        "records": record["records"],
        "raw_truncated_members": record["raw"]["truncated_members"],
        "late": reingest_late(params, layout, parse_instant(late_since)) if late_since else None,
    }


def reingest_late(params: Params, layout: Layout, since: dt.datetime) -> dict[str, list[str]]:
    """Ingest again the hours ingested since `since` whose raw archive grew afterwards."""
    hours = late_hours(layout, since)
    for hour in hours:
        run(params, layout, hour, hour + dt.timedelta(hours=1))
    return {"hours": [hour_key(h) for h in hours], "built_dates": built_dates(params, layout, hours)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--start/--end` for the stage; the `poll` sub-command for the poller."""
    parser.add_argument("--start", help="interval start, ISO instant (UTC if no zone)")
    parser.add_argument("--end", help="interval end (exclusive), ISO instant")
    parser.add_argument("--record-gaps", action="store_true",
                        help="hours without raw data are a gap in polling: write them empty so their "
                             "service dates can be built (the ledger lists them as gaps)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    from pipelines.sources.dbf.poll_cli import add_poll_arguments

    add_poll_arguments(
        sub.add_parser("poll", help="poll departure boards into the raw archive (long-running)")
    )


def main(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    """CLI front-end: run the stage over --start/--end, or the poller for `ingest poll`."""
    if getattr(args, "action", None) == "poll":
        from pipelines.sources.dbf.poll_cli import main_poll

        return main_poll(args, params)
    if not args.start or not args.end:
        raise StageError("ingest needs --start and --end (or the `poll` sub-command)")
    return run(params, Layout(params, args.home), parse_instant(args.start), parse_instant(args.end),
               record_gaps=args.record_gaps)
