"""The raw archive: every poll attempt exactly as received, gzip JSON lines per UTC poll hour.

Layout: `raw/YYYY-MM-DDTHH/<writer-id>.jsonl.gz`. Each attempt is appended as its own gzip member,
so a poller that dies mid-write loses at most the attempt it was writing, and the reader can tell.
An object store cannot append: there the writer appends to a local spool and ships each hour's file
whole, in one PUT, once it polls a later hour or stops (`ArchiveWriter.ship`).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.storage import DataPath, to_path
from pipelines.timeutil import hour_key

GZIP_MAGIC = b"\x1f\x8b\x08"
SHIPPED = ".shipped"                      # suffix of a spooled hour file already in the object store
KEEP_SHIPPED = dt.timedelta(hours=2)      # how long such copies stay in the spool
FIELDS = ("station", "url", "poll_time", "status", "date_header", "body", "error")


def raw_dir(raw_root: DataPath, hour: dt.datetime) -> DataPath:
    """Directory of one UTC poll hour."""
    return raw_root / hour_key(hour)


def make_line(
    station: str,
    url: str,
    poll_time: dt.datetime,
    status: int | None,
    date_header: str | None,
    body: bytes | None,
    error: str | None,
) -> dict[str, Any]:
    """One archive line; a body that is not valid UTF-8 is kept as base64 with `body_base64: true`."""
    line: dict[str, Any] = {
        "station": station,
        "url": url,
        "poll_time": poll_time.isoformat(),
        "status": status,
        "date_header": date_header,
        "body": None,
        "error": error,
    }
    if body is not None:
        try:
            line["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            line["body"], line["body_base64"] = base64.b64encode(body).decode("ascii"), True
    return line


def body_of(line: dict[str, Any]) -> bytes | str | None:
    """The body exactly as received: text, or the original bytes of a base64-kept body."""
    body = line.get("body")
    if body is not None and line.get("body_base64"):
        return base64.b64decode(body)
    return body


class ArchiveWriter:
    """Appends poll attempts to the raw archive of writer `writer_id` (through a local `spool` when the
    archive is in the object store)."""

    def __init__(self, raw_root: str | DataPath, writer_id: str, spool: str | Path | None = None) -> None:
        self.raw_root = to_path(raw_root)
        self.writer_id = writer_id
        if not isinstance(self.raw_root, Path) and spool is None:
            raise ValueError(f"the raw archive {self.raw_root} is in the object store: give a local spool")
        self.spool = None if isinstance(self.raw_root, Path) else Path(spool)

    def path_for(self, poll_time: dt.datetime) -> DataPath:
        """The archive file that holds attempts polled at `poll_time`."""
        return raw_dir(self.raw_root, poll_time) / f"{self.writer_id}.jsonl.gz"

    def ship(self, before: dt.datetime | None = None) -> list[DataPath]:
        """Upload the spooled hour files (of hours before `before`; default all) whole. A crash in between
        ships that hour again: its attempts arrive twice, which ingest drops. The local file is kept as
        `<name>.shipped` for KEEP_SHIPPED_H hours, so `railcast live` reads an hour's last attempts even
        when the shipping came first."""
        if self.spool is None or not self.spool.is_dir():
            return []
        shipped = []
        folders = sorted(p for p in self.spool.iterdir() if p.is_dir())
        for folder in (p for p in folders if before is None or p.name < hour_key(before)):
            for spooled in sorted(folder.glob("*.jsonl.gz")):
                target = self.raw_root / folder.name / spooled.name
                earlier = target.read_bytes() if target.exists() else b""  # gzip members concatenate
                target.write_bytes(earlier + spooled.read_bytes())
                spooled.rename(spooled.with_name(spooled.name + SHIPPED))
                shipped.append(target)
        newest = before or (dt.datetime.strptime(folders[-1].name, "%Y-%m-%dT%H").replace(tzinfo=dt.UTC)
                            + dt.timedelta(hours=1) if folders else None)
        for folder in (p for p in folders if newest and p.name < hour_key(newest - KEEP_SHIPPED)):
            for copy in folder.glob("*" + SHIPPED):
                copy.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()
        return shipped

    def append(self, line: dict[str, Any], poll_time: dt.datetime) -> Path:
        """Append one attempt as one gzip member and flush it to disk (the spool's, for a store)."""
        if self.spool is not None:
            self.ship(before=poll_time)
        path = raw_dir(self.spool or self.raw_root, poll_time) / f"{self.writer_id}.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        member = gzip.compress(data, mtime=0)  # mtime=0: identical input, identical bytes
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                written = 0
                while written < len(member):
                    written += os.write(fd, member[written:])
            except OSError:   # disk full, quota, size limit: cut back, leave no torn member
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
        return path


@dataclass
class RawRead:
    """Lines read from archive files, and what could not be read."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    truncated_members: int = 0
    corrupt_lines: list[str] = field(default_factory=list)


def gzip_members(data: bytes, wait_for_tail: bool = False) -> tuple[list[bytes], int, int]:
    """Decompressed gzip members of `data`, how many were cut short (skipped to the next header), and
    the bytes consumed. With `wait_for_tail`, an unfinished last member (a writer still at it) is left
    unconsumed instead of counted."""
    out: list[bytes] = []
    broken, consumed = 0, 0
    while consumed < len(data):
        rest = data[consumed:]
        inflater = zlib.decompressobj(wbits=31)
        try:
            chunk = inflater.decompress(rest)
            complete = inflater.eof
        except zlib.error:
            complete = False
        if complete:
            out.append(chunk)
            consumed = len(data) - len(inflater.unused_data)
            continue
        # A crashed writer left a member without its trailer; a restarted one may have appended more.
        resume = rest.find(GZIP_MAGIC, 1)
        if resume < 0 and wait_for_tail:
            break
        broken += 1
        consumed = consumed + resume if resume > 0 else len(data)
    return out, broken, consumed


def parse_members(members: list[bytes], result: RawRead) -> None:
    """Archive lines of decompressed members into `result`; undecodable ones are kept apart."""
    for member in members:
        for text in member.decode("utf-8", "replace").splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                result.corrupt_lines.append(text)
                continue
            if isinstance(line, dict) and all(k in line for k in FIELDS):
                result.lines.append(line)
            else:
                result.corrupt_lines.append(text)


def read_raw_file(path: DataPath, into: RawRead | None = None) -> RawRead:
    """Read one archive file; a truncated last member is counted, undecodable lines are kept apart."""
    result = into if into is not None else RawRead()
    members, broken, _ = gzip_members(path.read_bytes())
    result.truncated_members += broken
    parse_members(members, result)
    return result


def read_raw_hour(raw_root: DataPath, hour: dt.datetime, into: RawRead | None = None) -> RawRead:
    """Every writer's file of one UTC hour, in file-name order."""
    result = into if into is not None else RawRead()
    for path in sorted(raw_dir(raw_root, hour).glob("*.jsonl.gz")):
        read_raw_file(path, result)
    return result
