"""THE normalization of one DBF departure-board response (JSON API v3) into snapshot rows.

The poller's raw archive (via the `ingest` stage) and the simulator's bulk path both call
`normalize_board`, so snapshots are identical whichever way a board reached us.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import pyarrow as pa

from pipelines import schema as s
from pipelines.sources.dbf.fields import RecordError, coerce_record
from pipelines.timeutil import UTC

DEFAULT_MAX_BODY_BYTES = 2_000_000
DEFAULT_MAX_DEPTH = 12
EXCERPT_CHARS = 2000
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_STRINGS = re.compile(rb'"[^"]*"')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1, ord('"'): 0}


@dataclass(frozen=True)
class Rejected:
    """One quarantined record (or whole body) with its reason code."""

    reason: str
    content: str


@dataclass(frozen=True)
class NormalizedPoll:
    """Snapshot rows of one board plus everything that did not become a row."""

    table: pa.Table
    quarantined: tuple[Rejected, ...]
    duplicates: int
    body_reason: str | None = None

    @property
    def records_seen(self) -> int:
        """Departure objects on the board (0 when the body itself was rejected)."""
        if self.body_reason:
            return 0
        return self.table.num_rows + self.duplicates + len(self.quarantined)


def nesting_depth(text: str | bytes) -> int:
    """Deepest bracket nesting of JSON text, found without parsing it (brackets inside strings skipped)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # Drop escaped backslashes, then escaped quotes: what is left of a string is '"...."' with no '"' inside.
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = _STRINGS.sub(b"", data.translate(None, _NOT_STRUCTURE))  # C-speed passes, no Python loop
    steps = map(_STEP.__getitem__, structure)
    return max(accumulate(steps, initial=0))


def _reject_body(reason: str, text: str) -> NormalizedPoll:
    excerpt = Rejected(reason, text[:EXCERPT_CHARS])
    return NormalizedPoll(s.SNAPSHOT_SCHEMA.empty_table(), (excerpt,), 0, reason)


def parse_board(
    body: str | bytes, max_body_bytes: int, max_depth: int
) -> tuple[list | None, str | None, str]:
    """(departure objects, None) of a success body, or (None, reason) for a rejected one; plus its text."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    if len(raw) > max_body_bytes:
        return None, "oversized", raw[:EXCERPT_CHARS].decode("utf-8", "replace")
    try:
        text = body if isinstance(body, str) else raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "bad_encoding", raw[:EXCERPT_CHARS].decode("utf-8", "replace")
    if nesting_depth(raw) > max_depth:
        return None, "too_deep", text
    try:
        doc: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None, "malformed_json", text
    if not isinstance(doc, dict):
        return None, "not_an_object", text
    if "error" in doc:  # an error body is an error whatever the HTTP status said
        return None, "error_body", text
    if "departures" not in doc:
        return None, "missing_field:departures", text
    if not isinstance(doc["departures"], list):
        return None, "wrong_type:departures", text
    return doc["departures"], None, text


def _dump(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def normalize_board(
    body: str | bytes,
    station: str,
    poll_time: dt.datetime,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> NormalizedPoll:
    """Snapshot rows (SNAPSHOT_SCHEMA, sorted by SNAPSHOT_KEY) of one board body; never raises on bad input.

    A record repeating the (service_date, train_number) of an earlier one is counted as a duplicate.
    """
    if poll_time.tzinfo is None:
        raise ValueError("poll_time must be timezone-aware")
    poll_time = poll_time.astimezone(UTC)
    records, reason, text = parse_board(body, max_body_bytes, max_depth)
    if records is None:
        return _reject_body(reason or "malformed_json", text)
    rows: dict[tuple, dict] = {}
    rejected: list[Rejected] = []
    duplicates = 0
    for record in records:
        try:
            row = coerce_record(record, station, poll_time)
        except RecordError as exc:
            rejected.append(Rejected(exc.reason, _dump(record)))
            continue
        key = (row[s.SERVICE_DATE], row[s.TRAIN_NUMBER])
        if key in rows:
            duplicates += 1
        else:
            rows[key] = row
    ordered = [rows[k] for k in sorted(rows)]
    table = pa.Table.from_pylist(ordered, schema=s.SNAPSHOT_SCHEMA)
    return NormalizedPoll(table, tuple(rejected), duplicates)
