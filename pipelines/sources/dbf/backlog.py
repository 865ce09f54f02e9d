"""The poller's raw archive when the disk is full: attempts held in memory until they can be written.

A write that fails (ENOSPC, a quota, a file size limit) leaves no torn member behind (the writer cuts
the file back) and does not stop the poller: the attempt waits in a bounded in-memory backlog, the
error is logged with the free space, and every later attempt first writes the backlog, oldest first, so
the archive keeps poll order. Only when the backlog is full is the oldest attempt given up, counted as
`lost` and logged: the one way an attempt can go missing, and never silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections import Counter, deque
from typing import Any, Protocol

log = logging.getLogger(__name__)

HOLD = 10_000   # attempts (about 5 MB): two days of 64 boards every 3 minutes, then the oldest go


class Archive(Protocol):
    raw_root: Any

    def append(self, line: dict[str, Any], poll_time: dt.datetime) -> Any: ...


class HeldArchive:
    """Wraps an archive writer: `append` never raises for a write error; `counts` says what happened."""

    def __init__(self, archive: Archive, hold: int = HOLD) -> None:
        self.archive, self.hold = archive, hold
        self.backlog: deque[tuple[dict[str, Any], dt.datetime]] = deque()
        self.counts: Counter = Counter()
        self.failing = False

    def __getattr__(self, name: str) -> Any:   # the rest of the writer's interface (ship, raw_root, ...)
        return getattr(self.archive, name)

    def append(self, line: dict[str, Any], poll_time: dt.datetime) -> None:
        """Write what is held, then this attempt; on a write error keep them (oldest dropped past HOLD)."""
        held = len(self.backlog)
        self.backlog.append((line, poll_time))
        self.counts["written_late"] += min(held, self.flush())

    def flush(self) -> int:
        """Write the held attempts, oldest first, until one fails; returns how many were written."""
        written = 0
        while self.backlog:
            try:
                self.archive.append(*self.backlog[0])
            except OSError as exc:
                self._failed(exc)
                return written
            self.backlog.popleft()
            written += 1
        if self.failing:
            self.failing = False
            log.warning("raw archive writable again: the held attempts are written")
        return written

    def close(self) -> None:
        """A last try to write what is held; what still cannot be written is counted lost and logged."""
        self.counts["written_late"] += self.flush()
        if self.backlog:
            self.counts["lost"] += len(self.backlog)
            log.error("the poller stops with %d attempt(s) it could not write to the raw archive: lost",
                      len(self.backlog))
            self.backlog.clear()

    def _failed(self, exc: OSError) -> None:
        self.counts["write_errors"] += 1
        self.failing = True
        while len(self.backlog) > self.hold:
            line, _ = self.backlog.popleft()
            self.counts["lost"] += 1
            log.error("raw archive backlog full (%d): the attempt of %s at %s is lost", self.hold,
                      line.get("station"), line.get("poll_time"))
        try:
            free = shutil.disk_usage(self.archive.raw_root).free
        except OSError:
            free = -1
        log.error("cannot write the raw archive (%s; %d bytes free): %d attempt(s) held in memory, "
                  "written once space is back", exc, free, len(self.backlog))
