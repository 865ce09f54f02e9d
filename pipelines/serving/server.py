"""`railcast serve`: run the prediction API (uvicorn, one process) on 127.0.0.1 unless told otherwise.

It loads the champion at start (or starts without one and answers 503 until one is promoted), then
checks the alias every `serve.reload_seconds` and switches versions without dropping a request.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

from pipelines.config import Params
from pipelines.storage import Layout

log = logging.getLogger(__name__)


def build(params: Params, layout: Layout):
    """The champion holder (loaded once, not yet watching), the metrics and the ASGI app."""
    from pipelines.serving.app import create_app
    from pipelines.serving.champion import Champion
    from pipelines.serving.metrics import Metrics, MonitorFigures
    from pipelines.serving.stream import StreamView

    metrics = Metrics()
    metrics.registry.register(MonitorFigures(layout))
    champion = Champion(layout, params.serve.reload_seconds, metrics.model_changed)
    try:
        champion.refresh()
    except Exception as exc:  # the API still starts: /healthz says what is missing
        log.error("no model loaded at start: %s", exc)
    return champion, metrics, create_app(params.serve, champion, metrics, StreamView(layout))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast serve` (defaults from params.yaml `serve:`)."""
    parser.add_argument("--host", default=None, help="address to bind (default serve.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default serve.port, 8000)")
    parser.add_argument("--reload-seconds", type=float, default=None,
                        help="how often the champion alias is checked (default serve.reload_seconds, 30)")


def main(args: argparse.Namespace, params: Params) -> dict:
    """Serve until interrupted (Ctrl-C or SIGTERM stop it cleanly)."""
    import uvicorn

    chosen = {k: v for k, v in (("host", args.host), ("port", args.port),
                                 ("reload_seconds", args.reload_seconds)) if v is not None}
    params = dataclasses.replace(params, serve=dataclasses.replace(params.serve, **chosen))
    champion, _, app = build(params, Layout(params, args.home))
    champion.watch()
    served = champion.current.version if champion.current else "none yet"
    print(f"prediction API on http://{params.serve.host}:{params.serve.port} (model version {served}; "
          f"docs at /docs, metrics at /metrics)", flush=True)
    try:
        uvicorn.run(app, host=params.serve.host, port=params.serve.port, log_level="warning",
                    access_log=False, timeout_graceful_shutdown=10)
    finally:
        champion.close()
    return {"stopped": True}
