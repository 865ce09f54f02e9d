"""Incremental departure detection: the batch rules decided while the polls arrive.

State per station: its sorted good poll times; per group (station, service date, train number): the row
kept for each poll (the same pick as the batch detector). A group is decided once a good poll at or
after `last_seen + gap` exists and the clock has passed `last_seen + gap + grace`, both before the
service date's close: the decision the batch detector makes for the whole day, computed with the same
row-level functions (`detection.sessionize_reference`, which the property tests hold equal to the
vectorized detector). The clock is the latest poll instant seen, so replaying an archive gives the same
decisions at any speed. State is bounded: a decided train not seen for an hour keeps only its
decision and the poll that proved it gone (a poll more than an hour late for it is counted and
ignored), and every group of a service date goes when the date closes.

A poll that arrives after a group was decided (out of order, or a train shown again after leaving) can
change its departure: the group is decided again and the new row returned as a revision, so the latest
decision of every departure is the batch one (after its close, a date is the batch detector's). A
decided train shown
again whose new session turns out to end here, or is still undecided at the close, has no batch
departure: it is `withdrawn`.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any

from pipelines import schema as s
from pipelines.detection.sessionize import Window
from pipelines.detection.sessionize_reference import departure_row, last_session, rank, state_of

Key = tuple[str, dt.date, str]
SETTLE = dt.timedelta(hours=1)   # a decided train's rows are dropped this long after, unless seen again


class LiveDetector:
    """Feed polls with `add_poll`, take decisions with `decide`; `decided` holds the latest per group."""

    def __init__(self, gap: dt.timedelta, grace: dt.timedelta,
                 close_of: Callable[[dt.date], dt.datetime]) -> None:
        self.gap, self.grace, self.close_of = gap, grace, close_of
        self.good: dict[str, list[dt.datetime]] = defaultdict(list)
        self.groups: dict[Key, dict[dt.datetime, dict[str, Any]]] = {}
        self.last_seen: dict[Key, dt.datetime] = {}
        self.of_station: dict[str, set[Key]] = defaultdict(set)
        self.pending: set[Key] = set()         # groups to (re)consider at the next decide()
        self.decided: dict[Key, dict[str, Any]] = {}
        self.withdrawn: list[dict[str, Any]] = []   # decided, then withdrawn: see the module notes
        self.clock: dt.datetime | None = None
        self.closes: dict[dt.date, dt.datetime] = {}
        self.pruned_at: dt.datetime | None = None
        self.settled: dict[Key, dt.datetime] = {}   # decided long enough ago: evidence poll time, no rows
        self.to_settle: deque[tuple[dt.datetime, Key]] = deque()
        self.late_ignored = 0

    def _close(self, day: dt.date) -> dt.datetime:
        if day not in self.closes:
            self.closes[day] = self.close_of(day)
        return self.closes[day]

    def add_poll(self, station: str, poll_time: dt.datetime, ok: bool,
                 rows: Iterable[dict[str, Any]]) -> None:
        """One poll attempt of `station`: whether the board answered, and the rows it showed."""
        rows = list(rows)
        self.clock = poll_time if self.clock is None else max(self.clock, poll_time)
        good = self.good[station]
        if good and poll_time < good[-1]:
            # out of order: decided groups of the station may have to change (a rare, small set)
            self.pending |= self.of_station[station]
        if (ok or rows) and not _contains(good, poll_time):
            bisect.insort(good, poll_time)
        for row in rows:
            if self._close(row[s.SERVICE_DATE]) <= poll_time:
                continue   # after its close a service date is the batch detector's (it reads no later row)
            key = (row[s.STATION], row[s.SERVICE_DATE], row[s.TRAIN_NUMBER])
            if key in self.settled:
                if poll_time <= self.settled[key]:   # inside a settled session: over SETTLE late
                    self.late_ignored += 1
                    continue
                del self.settled[key]                # shown again after it left: a new session
            by_time = self.groups.setdefault(key, {})
            kept = by_time.get(poll_time)
            if kept is None or rank(row) > rank(kept):
                by_time[poll_time] = row
            if key not in self.last_seen or poll_time > self.last_seen[key]:
                self.last_seen[key] = poll_time
            self.of_station[row[s.STATION]].add(key)
            self.pending.add(key)

    def adopt(self, rows: Iterable[dict[str, Any]]) -> None:
        """Decisions published before a restart: a later revision or withdrawal of them is still
        reported (a row needs the identity columns and `last_seen`)."""
        for row in rows:
            self.decided.setdefault((row[s.STATION], row[s.SERVICE_DATE], row[s.TRAIN_NUMBER]), row)

    def decide(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Departure rows decided (or changed) since the last call, sorted by departure_id; `now`
        defaults to the clock. Then forgets the groups of service dates closed by then."""
        now = now or self.clock
        if now is None:
            return []
        wait = self.gap + self.grace
        out = []
        for key in list(self.pending):
            if now < self.last_seen[key] + wait:
                continue
            row = self._decision(key)
            if row is not None and self.decided.get(key) != row:
                self.decided[key] = row
                out.append(row)
            if row is not None:
                self.to_settle.append((now, key))
        self._settle(now)
        self._evict(now)
        return sorted(out, key=lambda r: r[s.DEPARTURE_ID])

    def _decision(self, key: Key) -> dict[str, Any] | None:
        """The departure row of a group once its state is final, else None (it stays pending)."""
        by_time = self.groups[key]
        sightings = [by_time[t] for t in sorted(by_time)]
        window = Window(self.gap, self.grace, self._close(key[1]))
        good = self.good[key[0]]
        good = good[:bisect.bisect_left(good, window.close)]   # the batch reads no poll at or after it
        state = state_of(sightings[-1], good, window)
        if state == "undecided":
            return None
        self.pending.discard(key)
        if state == "terminating":
            self._withdraw(key)
            return None
        return departure_row(last_session(sightings, good, self.gap), good, window)

    def _settle(self, now: dt.datetime) -> None:
        """Forget the rows of groups decided SETTLE ago and not seen since: only a sighting after the
        poll that proved them gone (a new session) can change them now, or a poll over SETTLE late."""
        while self.to_settle and self.to_settle[0][0] + SETTLE <= now:
            _, key = self.to_settle.popleft()
            if key in self.pending or key not in self.groups or key not in self.decided:
                continue
            last = self.last_seen[key]
            if self.decided[key][s.LAST_SEEN] != last:
                continue
            good = self.good[key[0]]
            self.settled[key] = good[bisect.bisect_left(good, last + self.gap)]
            del self.groups[key], self.last_seen[key]
            self.of_station[key[0]].discard(key)

    def _withdraw(self, key: Key) -> None:
        if key in self.decided:
            self.withdrawn.append(self.decided.pop(key))

    def take_withdrawn(self) -> list[dict[str, Any]]:
        """Departures published earlier that the batch will not have (drained by the call)."""
        out, self.withdrawn = self.withdrawn, []
        return out

    def _evict(self, now: dt.datetime) -> None:
        """Drop groups of service dates closed at `now`; hourly, good polls no held group needs."""
        held = {*self.groups, *self.settled, *self.decided}
        closed = {d for d in {k[1] for k in held} if self._close(d) <= now}
        for key in [k for k in held if k[1] in closed]:
            if key in self.pending:
                self._withdraw(key)
            for table in (self.groups, self.last_seen, self.decided, self.settled):
                table.pop(key, None)
            self.pending.discard(key)
            self.of_station[key[0]].discard(key)
        self.closes = {d: c for d, c in self.closes.items() if c > now}
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour == self.pruned_at:
            return
        self.pruned_at = hour
        recent = now - self.gap - self.grace
        for station, times in self.good.items():
            floor = min([min(self.groups[k]) for k in self.of_station[station]], default=recent)
            del times[:bisect.bisect_left(times, min(floor, recent))]


def _contains(times: list[dt.datetime], instant: dt.datetime) -> bool:
    i = bisect.bisect_left(times, instant)
    return i < len(times) and times[i] == instant
