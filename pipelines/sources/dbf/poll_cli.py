"""`railcast ingest poll`: the command-line front-end of the poller (signals, options, station list)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
from typing import Any

from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.sources.dbf.archive import ArchiveWriter
from pipelines.sources.dbf.poller import Poller, PollPlan
from pipelines.storage import Layout


def add_poll_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ingest poll`; unset ones fall back to params.yaml `ingest:`."""
    parser.add_argument("--home", default=argparse.SUPPRESS, help="data root (default: $RAILCAST_HOME)")
    parser.add_argument("--base-url", help="DBF instance or simulator, e.g. http://127.0.0.1:8092")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stations", help="comma-separated station names or EVA numbers")
    which.add_argument(
        "--all",
        action="store_true",
        help="every station of ingest.stations, or of the simulator's network when that is empty",
    )
    parser.add_argument(
        "--interval-min", type=float, help="minutes between polls of one station (>= 1; default 3)"
    )
    parser.add_argument(
        "--rate-limit-per-min", type=float, help="global request budget (default 10, DBF netiquette)"
    )
    parser.add_argument(
        "--clock", choices=("wall", "server"), help="poll time from our clock or the Date header"
    )
    parser.add_argument("--speed", type=float, default=1.0,
                        help="with --clock server: the server's clock runs this many times faster (a "
                             "simulator's --speed); intervals and rate limit are kept in its time")
    parser.add_argument("--max-polls", type=int, help="stop after this many HTTP requests")
    parser.add_argument("--duration-s", type=float, help="stop after this many seconds")
    parser.add_argument("--writer-id", help="name of this poller's archive files (default: host-pid)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the backoff jitter")


def all_stations(params: Params) -> tuple[str, ...]:
    """ingest.stations, or every station of the simulator's network when that list is empty."""
    if params.ingest.stations:
        return params.ingest.stations
    from pipelines.sources.simulator.network import build_network

    return tuple(build_network(params.simulation.seed, params.simulation.corridors).station_names())


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def plan_from_args(args: argparse.Namespace, params: Params) -> PollPlan:
    """The poll plan: command-line options over params.yaml `ingest:`."""
    cfg = params.ingest
    if args.stations:
        stations = tuple(s.strip() for s in args.stations.split(",") if s.strip())
    elif args.all:
        stations = all_stations(params)
    else:
        raise StageError("ingest poll: pass --stations A,B or --all")
    return PollPlan(
        base_url=_or(args.base_url, cfg.base_url),
        stations=stations,
        interval_min=_or(args.interval_min, cfg.poll_interval_min),
        rate_per_min=_or(args.rate_limit_per_min, cfg.rate_limit_per_min),
        timeout_s=cfg.timeout_s,
        retries=cfg.retries,
        backoff_s=cfg.backoff_s,
        clock=_or(args.clock, cfg.clock),
        max_body_bytes=cfg.max_body_bytes,
        max_polls=args.max_polls,
        duration_s=args.duration_s,
        seed=args.seed,
        speed=args.speed,
        allowed_hosts=cfg.allowed_hosts,
        min_free_mb=cfg.min_free_mb,
    )


def main_poll(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    """Run the poller until SIGINT/SIGTERM, --max-polls or --duration-s; returns its counts."""
    plan = plan_from_args(args, params)
    writer = args.writer_id or f"{socket.gethostname()}-{os.getpid()}"
    layout = Layout(params, args.home)
    archive = ArchiveWriter(layout.dataset("raw"), writer, spool=layout.root / "spool" / "raw")
    poller = Poller(plan, archive)
    previous = {sig: signal.signal(sig, lambda *_: poller.stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = poller.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        archive.ship()  # an archive in the object store gets the hours still spooled
    return {"writer": writer, "raw": str(archive.raw_root), **summary}
