"""What the live scorer reads: the poller's raw archive as it grows, normalized poll by poll.

`ArchiveTail` remembers, per archive file, how many bytes it has read; each call returns the attempts
appended since, a member still being written staying for the next call. `Normalizer` turns one attempt
into a poll event with the ingest stage's own rules (`classify`, the board parser, and dropping the
rows a second copy of the same poll repeats), so live rows are the rows `ingest` will write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines import schema as s
from pipelines.config import Ingest
from pipelines.sources.dbf.archive import SHIPPED, RawRead, gzip_members, parse_members
from pipelines.sources.dbf.normalize import classify
from pipelines.timeutil import hour_key, parse_instant


class ArchiveTail:
    """Reads the attempts appended to the archive files under `roots` since the previous call."""

    def __init__(self, roots: list[Path], first_hour: dt.datetime) -> None:
        self.roots = roots
        self.first_key = hour_key(first_hour)
        self.offsets: dict[Path, int] = {}
        self.truncated_members = 0

    def _files(self) -> list[Path]:
        """Archive files of hours from `first_hour` on, oldest hour first (hour keys sort as times)."""
        found = []
        for root in self.roots:
            if root.is_dir():
                found += [f for d in root.iterdir() if d.is_dir() and d.name >= self.first_key
                          for f in d.glob("*.jsonl.gz*")]
        return sorted(found, key=lambda f: (f.parent.name, f.name, str(f)))

    def read(self) -> list[dict[str, Any]]:
        """The new archive lines, file by file (an hour's writers in name order)."""
        result = RawRead()
        for path in self._files():
            key = path.with_name(path.name.removesuffix(SHIPPED))   # a spooled file, shipped meanwhile
            start = self.offsets.get(key, 0)
            try:
                with open(path, "rb") as fh:
                    fh.seek(start)
                    data = fh.read()
            except FileNotFoundError:   # shipped to the object store and removed from the spool
                continue
            members, broken, consumed = gzip_members(data, wait_for_tail=True)
            self.truncated_members += broken
            self.offsets[key] = start + consumed
            parse_members(members, result)
        return result.lines


@dataclass(frozen=True)
class Poll:
    """One normalized attempt: its station and instant, whether the board answered, its rows."""

    station: str
    poll_time: dt.datetime
    ok: bool
    rows: pa.Table


class Normalizer:
    """Archive lines to polls, as `ingest` normalizes them; forgets duplicates of polls before `floor`."""

    def __init__(self, limits: Ingest) -> None:
        self.limits = limits
        self.taken: dict[tuple[str, dt.datetime], set[tuple]] = {}
        self.unusable = 0

    def poll(self, line: dict[str, Any]) -> Poll | None:
        """The poll of one archive line, or None when ingest would quarantine the line itself."""
        try:
            poll_time = parse_instant(line["poll_time"])
        except (TypeError, ValueError, AttributeError):
            poll_time = None
        station = line.get("station")
        if poll_time is None or not isinstance(station, str) or not station:
            self.unusable += 1
            return None
        status, _, board = classify(line, poll_time, self.limits)
        if status != "ok":
            return Poll(station, poll_time, False, s.SNAPSHOT_SCHEMA.empty_table())
        seen = self.taken.setdefault((station, poll_time), set())
        keys = list(zip(board.table[s.SERVICE_DATE].to_pylist(), board.table[s.TRAIN_NUMBER].to_pylist(),
                        strict=True))
        fresh = board.table.filter(pa.array([k not in seen for k in keys], pa.bool_()))
        seen.update(keys)
        return Poll(station, poll_time, True, fresh)

    def forget_before(self, floor: dt.datetime) -> None:
        """Drop the duplicate check of polls older than `floor` (bounded memory)."""
        self.taken = {k: v for k, v in self.taken.items() if k[1] >= floor}
