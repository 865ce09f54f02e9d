"""The long-running poller: polite, rate-limited polling of departure boards into the raw archive."""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pipelines.errors import StageError
from pipelines.sources.dbf.archive import ArchiveWriter, make_line
from pipelines.sources.dbf.backlog import HeldArchive
from pipelines.sources.dbf.fetch import (
    Fetched,
    board_url,
    check_base_url,
    fetch,
    is_configuration_error,
    is_retryable,
)
from pipelines.sources.dbf.pacing import TokenBucket, check_plan, server_time
from pipelines.storage.space import low_space

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollPlan:
    """What to poll, how often and how politely."""

    base_url: str
    stations: tuple[str, ...]
    interval_min: float = 3.0
    rate_per_min: float = 10.0
    timeout_s: float = 10.0
    retries: int = 4
    backoff_s: float = 1.0
    clock: str = "wall"  # wall | server (the Date header: the simulator's clock)
    max_body_bytes: int = 2_000_000
    max_polls: int | None = None  # HTTP requests, retries included
    duration_s: float | None = None
    seed: int = 0
    speed: float = 1.0  # server seconds per wall second: a simulator's accelerated clock (clock=server)
    allowed_hosts: tuple[str, ...] = ()  # empty: any host; else the base URL's host must be one of them
    min_free_mb: float = 0.0  # less free under the archive (or its spool): a warning every minute


class Poller:
    """Polls each station every interval under one global rate limit, archiving every attempt."""

    def __init__(
        self,
        plan: PollPlan,
        archive: ArchiveWriter,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        fetcher: Callable[[str, float, int], Fetched] = fetch,
    ) -> None:
        check_plan(len(plan.stations), plan.interval_min, plan.rate_per_min)
        try:
            check_base_url(plan.base_url, plan.allowed_hosts)
        except ValueError as exc:
            raise StageError(f"{exc}; set ingest.base_url or --base-url (and ingest.allowed_hosts)") from exc
        if plan.clock not in ("wall", "server"):
            raise StageError(f"unknown clock {plan.clock!r}: use wall or server")
        if plan.speed != 1.0 and (plan.clock != "server" or plan.speed <= 0):
            raise StageError("--speed paces polls by the server's accelerated clock: it needs --clock server "
                             "and a positive factor (a simulator started with the same --speed)")
        self.plan, self.clock, self.fetcher = plan, clock, fetcher
        self.archive = HeldArchive(archive)   # a full disk holds attempts in memory, never stops polling
        self._stop = threading.Event()
        self.sleep = sleep or self._stop.wait  # the default sleep wakes up at once on stop()
        self.rng = random.Random(plan.seed)
        self.counts: Counter = Counter()
        self.dropped: dict[str, str] = {}
        self.server_offset = 0.0  # server clock minus wall clock, from the last Date header
        self.bucket: TokenBucket | None = None

    def stop(self) -> None:
        """Ask the loop to finish after the current request (signal handlers call this)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _out_of_budget(self, started: float) -> str | None:
        """Why the loop must end now, if it must."""
        if self.stopping:
            return "signal"
        if self.plan.max_polls is not None and self.counts["attempts"] >= self.plan.max_polls:
            return "max_polls"
        if self.plan.duration_s is not None and self.clock() - started >= self.plan.duration_s:
            return "duration"
        return None

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and not self.stopping:
            self.sleep(seconds)

    def _poll_time(self, fetched: Fetched, sent_at: float) -> dt.datetime:
        """The instant this board stands for: our clock, or the server's Date header (offset-tracked)."""
        wall = dt.datetime.fromtimestamp(sent_at, dt.UTC)
        if self.plan.clock == "wall":
            return wall
        header = server_time(fetched.date_header)
        if header is None:  # no answer: carry the last known server offset over
            return wall + dt.timedelta(seconds=self.server_offset)
        self.server_offset = (header - wall).total_seconds()
        return header

    def attempt(self, station: str) -> Fetched:
        """One request (the caller waited for a token), archived whatever happens."""
        self.bucket.take(self.clock())
        url = board_url(self.plan.base_url, station)
        sent_at = self.clock()
        fetched = self.fetcher(url, self.plan.timeout_s, self.plan.max_body_bytes)
        poll_time = self._poll_time(fetched, sent_at)
        line = make_line(
            station, url, poll_time, fetched.status, fetched.date_header, fetched.body, fetched.error
        )
        self.archive.append(line, poll_time)
        self.counts["attempts"] += 1
        return fetched

    def poll_station(self, station: str, started: float) -> str:
        """Poll one board with retries: ok, failed, config_error or stopped."""
        for attempt in range(self.plan.retries + 1):
            self._wait(self.bucket.wait_s(self.clock()))
            if self._out_of_budget(started):
                return "stopped"
            fetched = self.attempt(station)
            if is_configuration_error(fetched):
                self.dropped[station] = f"HTTP {fetched.status}: {(fetched.body or b'')[:200]!r}"
                log.error(
                    "station %r is misconfigured (%s): no retry, it is no longer polled; fix the "
                    "station list",
                    station,
                    self.dropped[station],
                )
                return "config_error"
            if not is_retryable(fetched):
                return "ok"
            if attempt < self.plan.retries:
                self.counts["retries"] += 1
                # exponential backoff with seeded jitter, so tests replay the same waits
                self._wait(self.plan.backoff_s * 2**attempt * self.rng.uniform(0.5, 1.5) / self.plan.speed)
        log.warning("station %r failed %d attempts in a row", station, self.plan.retries + 1)
        return "failed"

    def watch_space(self) -> dict[str, float]:
        """Warn while the archive's disk is low, before writes fail and polls wait in memory."""
        low = low_space([self.archive.spool or self.archive.raw_root], self.plan.min_free_mb)
        for path, free in low.items():
            log.warning("only %.0f MB free under %s (ingest.min_free_mb %g): once the disk is full, polls "
                        "are held in memory, then lost; free space", free, path, self.plan.min_free_mb)
        return low

    def run(self) -> dict:
        """Poll until a signal, --max-polls or --duration-s; returns the counts."""
        started = self.clock()
        # interval and rate hold in server time: at speed k, k times as many polls per wall second
        self.bucket = TokenBucket(self.plan.rate_per_min * self.plan.speed, started)
        interval = self.plan.interval_min * 60.0 / self.plan.speed
        n = len(self.plan.stations)
        log.info("polling %d station(s) at %s every %g min, at most %g requests/min, clock %s", n,
                 self.plan.base_url, self.plan.interval_min, self.plan.rate_per_min, self.plan.clock)
        # stagger first polls over one interval so the load is even from the start
        queue = [(started + i * interval / n, i, st) for i, st in enumerate(self.plan.stations)]
        heapq.heapify(queue)
        last_log, reason = started, None
        deadline = started + self.plan.duration_s if self.plan.duration_s is not None else float("inf")
        while queue and not (reason := self._out_of_budget(started)):
            due, i, station = heapq.heappop(queue)
            self._wait(min(due, deadline) - self.clock())  # wake at the deadline, not after it
            outcome = self.poll_station(station, started)
            self.counts[outcome] += 1
            if outcome != "config_error":
                heapq.heappush(queue, (max(due + interval, self.clock()), i, station))
            if self.clock() - last_log >= 60.0:
                last_log = self.clock()
                log.info("poller: %s; dropped stations: %s", dict(self.counts), sorted(self.dropped))
                self.watch_space()
        reason = reason or ("no_stations_left" if not queue else "stopped")
        log.info("poller stopped (%s): %s", reason, dict(self.counts))
        self.archive.close()
        archive = {f"archive_{k}": v for k, v in sorted(self.archive.counts.items())}
        return {"stopped_by": reason, **dict(sorted(self.counts.items())), **archive,
                "dropped_stations": self.dropped}
