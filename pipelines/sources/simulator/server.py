"""The simulator's HTTP server: the DBF JSON API v3 on the simulated clock, with optional faults."""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pipelines.config import Params
from pipelines.sources.simulator.boards import board_departures, parse_filters
from pipelines.sources.simulator.clock import SimClock
from pipelines.sources.simulator.faults import FaultPlan
from pipelines.sources.simulator.source import TruthSource, network_source

log = logging.getLogger(__name__)


def route_request(source: TruthSource, clock: SimClock, target: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON document) of one GET `target`, before any fault is applied."""
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query))
    name = unquote(parts.path.lstrip("/"))
    if name.endswith(".json"):
        name = name[: -len(".json")]
    version = query.get("version", "3")
    if version in ("1", "2"):
        return 500, {"error": f"JSON API version={version} is no longer supported"}
    if not name:
        return 500, {"error": "Unknown station name"}
    found = source.candidates(name)
    if not found:
        return 300, {"error": f"Got no results for '{name}'"}
    if len(found) > 1:
        return 300, {"error": "ambiguous station code/name", "candidates": found}
    t = clock.now()
    departures = board_departures(source.at(t), found[0], t, parse_filters(query))
    return 200, {"departures": departures}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def date_time_string(self, timestamp: float | None = None) -> str:  # noqa: ARG002 - the clock decides
        return email.utils.format_datetime(self.server.clock.now().replace(microsecond=0), usegmt=True)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        srv = self.server
        kind = srv.faults.next_kind() if srv.faults else "ok"
        status, doc = route_request(srv.source, srv.clock, self.path)
        body = json.dumps(doc, ensure_ascii=False).encode()
        if kind == "5xx":
            status, body = 503, b'{"error": "Service Unavailable"}'
        elif kind == "error200":
            status, body = 200, b'{"error": "Internal error: backend timed out"}'
        elif kind == "malformed":
            status, body = 200, body[: max(len(body) // 3, 1)] + b"<html>"
        elif kind == "slow":
            time.sleep(srv.faults.slow_s)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if kind == "truncated":
            self.send_header("Connection", "close")
            self.close_connection = True
            body = body[: len(body) // 2]
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts): nothing to do
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], source: TruthSource, clock: SimClock, faults: FaultPlan | None
    ) -> None:
        super().__init__(address, _Handler)
        self.source, self.clock, self.faults = source, clock, faults


@dataclass
class ServerHandle:
    """A running server: `url` (no trailing slash), `clock`, `faults` (its `log` lists kinds served)."""

    url: str
    clock: SimClock
    faults: FaultPlan | None
    source: TruthSource
    _server: _Server
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_server(
    params: Params,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: SimClock | None = None,
    scenario: str | None = None,
    faults: FaultPlan | None = None,
    source: TruthSource | None = None,
) -> ServerHandle:
    """Serve boards in a background thread (port 0: a free port); `source` defaults to the truth engine."""
    from pipelines.sources.simulator.clock import fixed_clock

    clock = clock or fixed_clock(f"{params.simulation.start_date}T06:00:00+00:00")
    source = source or network_source(params, scenario)
    server = _Server((host, port), source, clock, faults)
    thread = threading.Thread(target=server.serve_forever, name="railcast-simulator", daemon=True)
    thread.start()
    url = f"http://{host}:{server.server_address[1]}"
    return ServerHandle(url, clock, faults, source, server, thread)
