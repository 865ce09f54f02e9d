"""Normalize one UTC hour of raw poll attempts into snapshot rows, poll rows and quarantine entries."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s
from pipelines.config import Ingest
from pipelines.sources.dbf.archive import RawRead, body_of
from pipelines.sources.dbf.dbf import EXCERPT_CHARS, NormalizedPoll, normalize_board
from pipelines.sources.dbf.ledger import IngestLedger
from pipelines.timeutil import hour_floor, parse_instant


@dataclass
class HourOutput:
    """What one raw hour becomes."""

    snapshots: pa.Table
    polls: pa.Table
    quarantine: list[dict[str, Any]] = field(default_factory=list)


def _entry(kind: str, reason: str, content: str, station: Any = None, poll_time: Any = None) -> dict:
    """One quarantine line; records are kept whole, bodies and raw lines as an excerpt (raw keeps all)."""
    text = content if kind == "record" else content[:EXCERPT_CHARS]
    return {"kind": kind, "reason": reason, "content": text, "station": station, "poll_time": poll_time}


def _attempt_time(line: dict, hour: dt.datetime) -> tuple[dt.datetime | None, str | None]:
    """The poll instant of a raw line, or why it cannot be used in this hour's partition."""
    try:
        poll_time = parse_instant(line["poll_time"])
    except (TypeError, ValueError, AttributeError):
        return None, "bad_poll_time"
    if not isinstance(line["station"], str) or not line["station"]:
        return None, "missing_field:station"
    return (poll_time, None) if hour_floor(poll_time) == hour else (None, "outside_hour")


def classify(
    line: dict, poll_time: dt.datetime, limits: Ingest
) -> tuple[str, str | None, NormalizedPoll | None]:
    """(status, reason, normalized board) of one attempt: ok, failed (network/server) or quarantined."""
    if line.get("error") is not None:
        return "failed", f"network:{line['error']}"[:120], None
    board = normalize_board(
        body_of(line) or "",
        line["station"],
        poll_time,
        max_body_bytes=limits.max_body_bytes,
        max_depth=limits.max_depth,
    )
    if line.get("status") != 200:  # the server said it failed (5xx, 300 unknown station ...), body or not
        return "failed", f"http_{line.get('status')}", board
    if board.body_reason == "error_body":  # older servers send errors with status 200
        return "failed", "error_body", board
    if board.body_reason:
        return "quarantined", board.body_reason, board
    return "ok", None, board


def _keys(table: pa.Table) -> list[tuple]:
    return list(zip(table[s.SERVICE_DATE].to_pylist(), table[s.TRAIN_NUMBER].to_pylist(), strict=True))


def _drop_seen(table: pa.Table, seen: set) -> pa.Table:
    """Rows whose (service_date, train_number) were not already taken from an earlier identical poll."""
    if not seen:
        return table
    return table.filter(pa.array([k not in seen for k in _keys(table)], pa.bool_()))


def _usable_attempts(raw: RawRead, hour: dt.datetime, ledger: IngestLedger, quarantine: list) -> list:
    """(station, poll_time, order, line) of the lines that belong to this hour; the rest is quarantined."""
    for text in raw.corrupt_lines:
        ledger.add_poll("quarantined", "corrupt_raw_line")
        quarantine.append(_entry("line", "corrupt_raw_line", text))
    attempts = []
    for order, line in enumerate(raw.lines):
        poll_time, problem = _attempt_time(line, hour)
        if problem:
            ledger.add_poll("quarantined", problem)
            quarantine.append(
                _entry(
                    "line",
                    problem,
                    json.dumps(line, sort_keys=True),
                    line.get("station"),
                    line.get("poll_time"),
                )
            )
        else:
            attempts.append((line["station"], poll_time, order, line))
    return sorted(attempts, key=lambda a: a[:3])  # out-of-order polls are fine; ties keep archive order


def normalize_hour(raw: RawRead, hour: dt.datetime, limits: Ingest, ledger: IngestLedger) -> HourOutput:
    """Snapshots, polls and quarantine of one hour; counts go to `ledger`. Input order does not matter."""
    quarantine: list[dict] = []
    tables, poll_rows, taken = [], [], {}
    for station, poll_time, _, line in _usable_attempts(raw, hour, ledger, quarantine):
        status, reason, board = classify(line, poll_time, limits)
        ledger.add_poll(status, reason)
        poll_rows.append(
            {
                s.STATION: station,
                s.POLL_TIME: poll_time,
                s.POLL_STATUS: status,
                s.POLL_RECORDS: board.table.num_rows if status == "ok" else 0,
                s.POLL_REASON: reason,
            }
        )
        kind = "record" if status == "ok" else "body"
        if status != "failed":
            quarantine.extend(
                _entry(kind, q.reason, q.content, station, poll_time.isoformat()) for q in board.quarantined
            )
        if status == "ok":
            # a poll delivered twice (same station and instant) adds no rows the first copy gave
            seen = taken.setdefault((station, poll_time), set())
            fresh = _drop_seen(board.table, seen)
            seen.update(_keys(fresh))
            tables.append(fresh)
            ledger.add_records(
                fresh.num_rows,
                board.duplicates + board.table.num_rows - fresh.num_rows,
                [q.reason for q in board.quarantined],
            )
    return HourOutput(_sorted(tables), _polls_table(poll_rows), _sorted_entries(quarantine))


def _sorted(tables: list[pa.Table]) -> pa.Table:
    table = pa.concat_tables(tables) if tables else s.SNAPSHOT_SCHEMA.empty_table()
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in s.SNAPSHOT_KEY])
    return table.take(order)


def _polls_table(rows: list[dict]) -> pa.Table:
    rows = sorted(
        rows, key=lambda r: (r[s.STATION], r[s.POLL_TIME], r[s.POLL_STATUS], r[s.POLL_REASON] or "")
    )
    return pa.Table.from_pylist(rows, schema=s.POLLS_SCHEMA)


def _sorted_entries(entries: list[dict]) -> list[dict]:
    return sorted(
        entries,
        key=lambda e: tuple(str(e[k] or "") for k in ("station", "poll_time", "kind", "reason", "content")),
    )
