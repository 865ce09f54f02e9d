"""Fault injection of the simulator's server: which misbehaviour each request gets, deterministic by seed.

Kinds: `ok`, `5xx` (HTTP 503 with an error body; bursts of `burst` requests in a row), `slow` (the
answer is held back `slow_s` seconds, so a client with a shorter timeout times out), `truncated` (the
body is cut in half; Content-Length still announces the whole), `error200` (an error body with status
200, like old servers), `malformed` (status 200, a body that is not JSON).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from pipelines.config import FaultProfile

KINDS = ("ok", "5xx", "slow", "truncated", "error200", "malformed")
SHARES = ("error", "slow", "truncate", "error200", "malformed")


@dataclass
class FaultPlan:
    """Shares of each fault among requests; `script` forces the kinds of the first requests, in order."""

    seed: int = 0
    error: float = 0.0  # share of requests that start a 5xx burst
    burst: int = 3  # requests per 5xx burst
    slow: float = 0.0
    slow_s: float = 5.0
    truncate: float = 0.0
    error200: float = 0.0
    malformed: float = 0.0
    script: tuple[str, ...] = ()
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _served: int = field(init=False, default=0)
    _burst_left: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        unknown = [k for k in self.script if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; kinds: {', '.join(KINDS)}")
        self._rng = random.Random(self.seed)
        self.log: list[str] = []

    def next_kind(self) -> str:
        """The fault of the next request (thread-safe; the sequence depends only on seed and order)."""
        with self._lock:
            index, self._served = self._served, self._served + 1
            draw = self._rng.random()  # always drawn, so a script does not shift the random sequence
            if index < len(self.script):
                kind = self.script[index]
            elif self._burst_left > 0:
                self._burst_left -= 1
                kind = "5xx"
            else:
                kind = self._pick(draw)
                if kind == "5xx":
                    self._burst_left = self.burst - 1
            self.log.append(kind)
            return kind

    def _pick(self, draw: float) -> str:
        edge = 0.0
        for kind, share in zip(
            ("5xx", "slow", "truncated", "error200", "malformed"),
            (self.error / max(self.burst, 1), self.slow, self.truncate, self.error200, self.malformed),
            strict=True,
        ):
            edge += share
            if draw < edge:
                return kind
        return "ok"


def parse_faults(spec: str | None, profile: FaultProfile | None = None, seed: int = 0) -> FaultPlan | None:
    """A plan from CLI text: "none", "default" (failed_poll_share as 5xx) or "error=0.05,slow=0.01,...".

    Keys: seed, error, burst, slow, slow_s, truncate, error200, malformed, script (kinds joined by "+").
    """
    if not spec or spec == "none":
        return None
    if spec == "default":
        return FaultPlan(seed=seed, error=profile.failed_poll_share if profile else 0.05)
    values: dict[str, object] = {"seed": seed}
    for item in spec.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        if key == "script":
            values[key] = tuple(k for k in value.split("+") if k)
        elif key in ("seed", "burst"):
            values[key] = int(value)
        elif key in (*SHARES, "slow_s"):
            values[key] = float(value)
        else:
            raise ValueError(f"unknown fault option {key!r} in {spec!r}")
    return FaultPlan(**values)  # type: ignore[arg-type]
