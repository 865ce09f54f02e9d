"""Shared by the ingest tests (no tests here): hand-written DBF v3 bodies, a fake clock, a canned server."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

pytestmark = pytest.mark.data

HOLZWICKEDE_RE7: dict[str, Any] = {
    "train": "RE 7",
    "trainClasses": ["N"],
    "trainNumber": "32557",
    "destination": "Krefeld Hbf",
    "platform": "2",
    "scheduledPlatform": "1",
    "scheduledArrival": "12:18",
    "scheduledDeparture": "12:19",
    "delayArrival": 1,
    "delayDeparture": 2,
    "isCancelled": 0,
    "missingRealtime": False,
    "messages": {
        "delay": [
            {"timestamp": "2022-06-20T12:10:00", "text": "Verspätung eines vorausfahrenden Zuges"},
            {"timestamp": "2022-06-20T11:50:00", "text": "Bauarbeiten"},
        ],
        "qos": [{"timestamp": "2022-06-20T11:00:00", "text": "WLAN nicht verfügbar"}],
    },
    "route": [
        {"name": "Unna"},
        {"name": "Holzwickede"},
        {"name": "Dortmund Hbf"},
        {"name": "Hagen-Vorhalle", "isAdditional": 1},
        {"name": "Krefeld Hbf"},
        {"name": "Mönchengladbach Hbf", "isCancelled": 1},
    ],
    "via": ["Dortmund Hbf", "Hagen-Vorhalle", "Krefeld Hbf"],
}


def dep(**changes: Any) -> dict[str, Any]:
    """A copy of the RE 7 record with fields changed (None values are kept as JSON null)."""
    record = copy.deepcopy(HOLZWICKEDE_RE7)
    record.update(changes)
    return record


def without(*keys: str) -> dict[str, Any]:
    """A copy of the RE 7 record with fields removed."""
    record = copy.deepcopy(HOLZWICKEDE_RE7)
    for key in keys:
        record.pop(key)
    return record


def board(*records: Any) -> str:
    """A success body holding `records`."""
    return json.dumps({"departures": list(records)}, ensure_ascii=False)


class FakeClock:
    """Injectable time for the poller: `sleep` advances it instantly and records how long it slept."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class CannedBoards:
    """A stdlib HTTP server on 127.0.0.1 serving scripted responses per station (a stand-in DBF).

    `script[station]` is a list of (status, body, options) consumed one per request (the last repeats);
    options: "sleep" seconds before answering, "cut" bytes to drop while keeping Content-Length,
    "location" a Location header (for redirects).
    `date_for()`, when set, gives the Date header (the server's clock). Requests are recorded.
    """

    def __init__(self, script: dict[str, list[tuple[int, str, dict]]]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import unquote, urlsplit

        self.script = {station: list(steps) for station, steps in script.items()}
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                station = unquote(urlsplit(self.path).path.lstrip("/"))
                outer.requests.append((station, self.path))
                steps = outer.script.get(station) or [(300, '{"error": "Got no results"}', {})]
                status, body, opts = steps.pop(0) if len(steps) > 1 else steps[0]
                if opts.get("sleep"):
                    time.sleep(opts["sleep"])
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if opts.get("location"):
                    self.send_header("Location", opts["location"])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data[: len(data) - opts.get("cut", 0)])
                except OSError:
                    pass  # the client gave up (timeout): nothing to do

            def date_time_string(self, timestamp=None) -> str:
                return outer.date_for() if outer.date_for else super().date_time_string(timestamp)

            def log_message(self, *args) -> None:
                pass

        self.date_for = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, station: str) -> int:
        return sum(1 for s, _ in self.requests if s == station)
