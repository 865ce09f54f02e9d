"""Ingest throughput: normalization records per second, and HTTP polls per second on loopback.

The HTTP figure polls the simulator's server (its clock following the poller's virtual time, so
pacing waits cost nothing); without the simulator, a stdlib server answering one fixed synthetic board.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipelines.config import load_params
from pipelines.sources.dbf.archive import ArchiveWriter
from pipelines.sources.dbf.dbf import normalize_board
from pipelines.sources.dbf.poller import Poller, PollPlan
from pipelines.sources.ingest import run as run_ingest
from pipelines.storage import Layout

POLL = dt.datetime(2025, 9, 1, 16, 0, tzinfo=dt.UTC)
LABELS = ("ICE 1555", "IC 2013", "RE 7", "RB 59", "S 1", "S 4")


def synthetic_board(n: int, seed: int = 0) -> str:
    """A board of `n` realistic departure objects (fixed seed)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        minute = 18 * 60 + rng.randrange(-30, 180)
        delay = rng.choice([0, 0, 1, 2, 5, 12, 35])
        stops = [{"name": f"Station {rng.randrange(300)}"} for _ in range(rng.randrange(3, 12))]
        records.append(
            {
                "train": rng.choice(LABELS),
                "trainClasses": ["N"],
                "trainNumber": str(10000 + i),
                "destination": stops[-1]["name"],
                "platform": "3",
                "scheduledPlatform": "3",
                "scheduledArrival": f"{minute // 60 % 24:02d}:{minute % 60:02d}",
                "delayArrival": delay,
                "scheduledDeparture": f"{(minute + 1) // 60 % 24:02d}:{(minute + 1) % 60:02d}",
                "delayDeparture": delay,
                "isCancelled": 0,
                "missingRealtime": False,
                "messages": {
                    "delay": [{"timestamp": "2025-09-01T17:00:00", "text": "Bauarbeiten"}] if delay else [],
                    "qos": [],
                },
                "route": stops,
                "via": [s["name"] for s in stops[:3]],
            }
        )
    return json.dumps({"departures": records})


def bench_normalize(n_records: int = 60, repeats: int = 200) -> dict:
    """Records per second through normalize_board on a typical large-station board."""
    body = synthetic_board(n_records)
    normalize_board(body, "Bench", POLL)  # warm the time-resolution cache like a running stage would
    t0 = time.perf_counter()
    for k in range(repeats):
        normalize_board(body, "Bench", POLL + dt.timedelta(minutes=3 * k))
    seconds = time.perf_counter() - t0
    return {
        "normalize_records_per_s": round(n_records * repeats / seconds),
        "normalize_boards_per_s": round(repeats / seconds, 1),
        "board_records": n_records,
        "board_bytes": len(body.encode()),
    }


def _fixed_board_server(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _VirtualTime:
    """Pacing runs on virtual time so the figure is the cost of a poll, not the politeness waits."""

    def __init__(self) -> None:
        self.now = POLL.timestamp()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def _simulator_server(start: dt.datetime, monotonic) -> tuple[object, str, tuple[str, ...]]:  # noqa: ANN001
    """The simulator's server on a clock that follows the poller's virtual time, and its stations."""
    from pipelines.sources.simulator.clock import SimClock
    from pipelines.sources.simulator.server import start_server

    handle = start_server(load_params(), clock=SimClock(start, speed=1.0, monotonic=monotonic))
    return handle, handle.url, tuple(handle.source.names)


def bench_http(root: Path, polls: int = 200, n_records: int = 60) -> dict:
    """HTTP polls per second (request, board, archive append) against a loopback server."""
    clock = _VirtualTime()
    try:
        handle, url, stations = _simulator_server(POLL, clock.time)
        label, stop = "simulator", handle.stop
    except ImportError:  # the simulator is not installed: measure our client against a fixed board
        server, url = _fixed_board_server(synthetic_board(n_records).encode())
        stations, label = tuple(f"Station {i}" for i in range(100)), "stdlib fixed board"
        stop = lambda: (server.shutdown(), server.server_close())  # noqa: E731
    plan = PollPlan(
        base_url=url, stations=stations, interval_min=1.0, rate_per_min=1e6, max_polls=polls, clock="server"
    )
    poller = Poller(plan, ArchiveWriter(root / "raw", "bench"), clock=clock.time, sleep=clock.sleep)
    _warm = poller.fetcher(f"{url}/{stations[0]}?mode=json&version=3", 60.0, 10**7)  # truth of the day
    t0 = time.perf_counter()
    summary = poller.run()
    seconds = time.perf_counter() - t0
    stop()
    return {
        "http_polls_per_s": round(summary["attempts"] / seconds, 1),
        "http_polls": summary["attempts"],
        "http_server": label,
    }


def bench_stage(root: Path) -> dict:
    """The ingest stage over the archive bench_http wrote: records per second incl. Parquet writes."""
    params = load_params()
    t0 = time.perf_counter()
    result = run_ingest(
        params, Layout(params, root), POLL - dt.timedelta(hours=1), POLL + dt.timedelta(hours=2)
    )
    seconds = time.perf_counter() - t0
    return {
        "stage_records_per_s": round(result["records"]["seen"] / seconds),
        "stage_records": result["records"]["seen"],
        "stage_seconds": round(seconds, 2),
    }


def run() -> dict:
    """All ingest figures (bounded: a few seconds on 2 cores)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        return {**bench_normalize(), **bench_http(root), **bench_stage(root)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
