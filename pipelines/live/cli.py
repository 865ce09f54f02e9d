"""`railcast live`: the live scorer as a long-running process, or a replay of the archive (`--until-idle`).

It reads the poller's raw archive (and its local spool, where the archive is in the object store) from
the start of the oldest open service date, rebuilds its state from what it reads, and publishes only
what the stream does not hold yet: a restart decides nothing twice. The champion (and the challenger,
scored in shadow) follow their aliases every `serve.reload_seconds`, checked against their hashes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.live.feed import ArchiveTail
from pipelines.live.metrics import LiveMetrics
from pipelines.live.scorer import LiveScorer
from pipelines.storage import Layout
from pipelines.timeutil import local_midnight_utc, parse_instant, service_date_of

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast live` (defaults from params.yaml `live:` and `serve:`)."""
    parser.add_argument("--since", help="read the archive from this instant's hour (default: the start of "
                                        "the service date before the newest archived hour's)")
    parser.add_argument("--interval-s", type=float,
                        help="seconds between archive reads (default live.interval_s)")
    parser.add_argument("--reload-seconds", type=float, help="how often the aliases are checked "
                                                             "(default serve.reload_seconds)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus metrics port (default "
                                                         "live.metrics_port; 0: none)")
    parser.add_argument("--metrics-host", help="address of the metrics listener (default serve.host, "
                                               "127.0.0.1)")
    parser.add_argument("--until-idle", action="store_true",
                        help="stop once a read finds nothing new (a replay of what is archived)")
    parser.add_argument("--duration-s", type=float, help="stop after this many seconds")


def archive_roots(layout: Layout) -> list[Path]:
    """Local folders the poller writes: the archive itself, or its spool when the archive is a store."""
    raw = layout.dataset("raw")
    return [p for p in (raw if isinstance(raw, Path) else None, layout.root / "spool" / "raw") if p]


def first_hour(roots: list[Path], since: str | None, wait: threading.Event | None = None,
               interval_s: float = 5.0) -> dt.datetime:
    """Where reading starts: `since`, else the Berlin midnight starting the day before the newest hour.
    With `wait`, an empty archive is waited for (a scorer started before its poller) until it is set."""
    if since:
        return parse_instant(since)
    said = False
    while True:
        hours = [d.name for r in roots if r.is_dir() for d in r.iterdir() if d.is_dir()]
        if hours:
            newest = parse_instant(max(hours) + ":00:00")
            return local_midnight_utc(service_date_of(newest) - dt.timedelta(days=1))
        problem = (f"railcast live: no raw archive under {', '.join(map(str, roots))}; start the poller "
                   "(`railcast ingest poll --all`) or pass --since")
        if wait is None or wait.is_set():
            raise StageError(problem)
        if not said:
            print(problem + " (waiting for it)", flush=True)
            said = True
        wait.wait(interval_s)


def models(params: Params, layout: Layout, reload_s: float, metrics: LiveMetrics):
    """(champion holder, challenger holder), loaded once and following their aliases."""
    from pipelines.registry import tracking
    from pipelines.serving.champion import Champion

    holders = (Champion(layout, reload_s, metrics.model_changed),
               Champion(layout, reload_s, alias=tracking.CHALLENGER))
    for holder in holders:
        try:
            holder.refresh()
        except Exception as exc:  # starts anyway: decisions wait unscored until a champion exists
            log.error("%s not loaded at start: %s", holder.alias, exc)
        holder.watch()
    return holders


def run(params: Params, layout: Layout, args: argparse.Namespace, stop: threading.Event) -> dict[str, Any]:
    """Read, decide, predict and publish until `stop`, the duration or (with --until-idle) an idle read."""
    interval = args.interval_s if args.interval_s is not None else params.live.interval_s
    reload_s = args.reload_seconds if args.reload_seconds is not None else params.serve.reload_seconds
    port = args.metrics_port if args.metrics_port is not None else params.live.metrics_port
    metrics = LiveMetrics()
    host = args.metrics_host or params.serve.host
    if port:
        metrics.serve(host, port)
    roots = archive_roots(layout)
    start = first_hour(roots, args.since, None if args.until_idle else stop)
    tail = ArchiveTail(roots, start)
    champion, challenger = models(params, layout, reload_s, metrics)
    scorer = LiveScorer(params, layout, lambda: (champion.current, challenger.current))
    scorer.restore([service_date_of(start) + dt.timedelta(days=i) for i in range(4)])
    print(f"railcast live: reading {', '.join(map(str, roots))} from {start:%Y-%m-%d %H:00} UTC; "
          f"publishing to {layout.dataset('live')}" + (f"; metrics on {host}:{port}" if port
                                                      else ""), flush=True)
    began = time.monotonic()
    try:
        while not stop.is_set():
            lines = tail.read()
            read_at = time.monotonic()
            for line in lines:
                scorer.add(line)
            published = scorer.step(dt.datetime.now(dt.UTC))
            metrics.observe(scorer, published, time.monotonic() - read_at, bool(lines))
            if args.until_idle and not lines:
                break
            if args.duration_s is not None and time.monotonic() - began >= args.duration_s:
                break
            stop.wait(interval)
    finally:
        champion.close()
        challenger.close()
        metrics.close()
    return {"home": str(layout.root), "since": start.isoformat(), "clock": str(scorer.detector.clock),
            "truncated_members": tail.truncated_members, **dict(sorted(scorer.counts.items()))}


def main(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    """Run until Ctrl-C or SIGTERM (or the --until-idle / --duration-s end)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return run(params, Layout(params, args.home), args, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
