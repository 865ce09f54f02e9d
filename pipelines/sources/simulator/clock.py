"""The simulated clock: a start instant plus elapsed monotonic time times a speed factor."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from pipelines.timeutil import UTC, parse_instant


class SimClock:
    """Simulated time; `monotonic` is injectable so tests drive the clock without sleeping.

    speed 1 runs in real time, 60 runs a simulated hour per real minute, 0 stands still at `start`.
    """

    def __init__(
        self, start: dt.datetime | str, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._start = parse_instant(start)
        self._speed = float(speed)
        self._monotonic = monotonic
        self._origin = monotonic()
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> dt.datetime:
        """The current simulated instant (aware UTC)."""
        with self._lock:
            elapsed = self._monotonic() - self._origin
            return self._start + dt.timedelta(seconds=elapsed * self._speed)

    def set(self, instant: dt.datetime | str) -> None:
        """Jump to `instant`; the clock keeps running from there at the same speed."""
        with self._lock:
            self._start = parse_instant(instant)
            self._origin = self._monotonic()


class ManualTime:
    """A monotonic time source that only moves when told to (for tests and benchmarks)."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        """Move the time source forward."""
        self.value += seconds


def fixed_clock(instant: dt.datetime | str) -> SimClock:
    """A clock standing still at `instant` until `set` moves it."""
    return SimClock(instant, speed=0.0, monotonic=ManualTime())


__all__ = ["UTC", "ManualTime", "SimClock", "fixed_clock"]
