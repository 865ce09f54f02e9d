"""`railcast simulator stations|serve`: list the network's stations, or serve departure boards over HTTP."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from pipelines.config import Params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands `stations` and `serve`."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("stations", help="print the station names of the simulated network, one per line")
    serve = sub.add_parser("serve", help="serve the DBF JSON API v3 on the simulated clock")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8092, help="port (default 8092, DBF's)")
    serve.add_argument("--start", help="simulated instant at start, ISO (default: start_date 06:00 UTC)")
    serve.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    serve.add_argument("--scenario", help="scenario of params.yaml (default: simulation.scenario)")
    serve.add_argument(
        "--faults",
        default="none",
        help='"none", "default" (failed_poll_share as 5xx) or e.g. '
        '"seed=1,error=0.05,burst=3,slow=0.01,slow_s=15,truncate=0.01,error200=0.01,malformed=0.01"',
    )


def serve(args: argparse.Namespace, params: Params, stop: threading.Event | None = None) -> dict[str, Any]:
    """Run the server until `stop` is set (or SIGINT/SIGTERM); returns what was served."""
    from pipelines.sources.simulator.clock import SimClock
    from pipelines.sources.simulator.faults import parse_faults
    from pipelines.sources.simulator.server import start_server

    start = args.start or f"{params.simulation.start_date}T06:00:00+00:00"
    clock = SimClock(start, speed=args.speed)
    plan = parse_faults(args.faults, params.simulation.faults, seed=params.simulation.seed)
    handle = start_server(params, args.host, args.port, clock, scenario=args.scenario, faults=plan)
    handle.source.at(clock.now())  # simulate the first days now, so the first poll does not time out
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    print(f"railcast simulator: serving {handle.url} from {start} at speed {args.speed}", flush=True)
    try:
        stop.wait()
    finally:
        handle.stop()
    return {"url": handle.url, "stopped_at": clock.now().isoformat(), "faults": plan.log if plan else []}


def main(args: argparse.Namespace, params: Params) -> dict[str, Any] | None:
    """CLI front-end of `railcast simulator`."""
    if args.action == "stations":
        from pipelines.sources.simulator.network import build_network

        print("\n".join(build_network(params.simulation.seed, params.simulation.corridors).station_names()))
        return None
    return serve(args, params)
