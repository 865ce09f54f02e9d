"""Pacing of the poller: plan checks against the rate limit, the token bucket, the server clock."""

from __future__ import annotations

import datetime as dt
import email.utils

from pipelines.errors import StageError

MIN_INTERVAL_MIN = 1.0  # docs/RAIL_FACTS.md netiquette: one request per station per minute at most


def check_plan(n_stations: int, interval_min: float, rate_per_min: float) -> None:
    """Refuse a polling plan the rate limit cannot carry, saying what to change."""
    if interval_min < MIN_INTERVAL_MIN:
        raise StageError(
            f"--interval-min {interval_min:g} is below {MIN_INTERVAL_MIN:g} minute: boards "
            "are cached for 70 s and the public instance allows one request per station per minute"
        )
    if n_stations == 0:
        raise StageError("no stations to poll: pass --stations A,B or --all")
    needed = n_stations / interval_min
    if needed > rate_per_min:
        raise StageError(
            f"{n_stations} stations every {interval_min:g} min need {needed:.1f} requests/min but the rate "
            f"limit is {rate_per_min:g}/min: poll fewer stations "
            f"(at most {int(rate_per_min * interval_min)}), "
            f"raise --interval-min to at least {n_stations / rate_per_min:g}, or raise --rate-limit-per-min "
            "(only against your own DBF instance or the simulator)"
        )


class TokenBucket:
    """A global request budget of `rate_per_min`, refilled continuously; capacity 1 spaces requests evenly."""

    def __init__(self, rate_per_min: float, now: float, capacity: float = 1.0) -> None:
        self.rate_s = rate_per_min / 60.0
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def wait_s(self, now: float) -> float:
        """Seconds until a token is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate_s)
        self.stamp = now
        # a hair of tolerance: sleeping exactly the computed wait must be enough despite float rounding
        return 0.0 if self.tokens >= 1.0 - 1e-9 else (1.0 - self.tokens) / self.rate_s

    def take(self, now: float) -> None:
        """Spend one token (call after `wait_s` returned 0)."""
        self.wait_s(now)
        self.tokens -= 1.0


def server_time(date_header: str | None) -> dt.datetime | None:
    """The instant of an HTTP Date header, or None when absent or unreadable."""
    if not date_header:
        return None
    try:
        when = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError):
        return None
    return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
