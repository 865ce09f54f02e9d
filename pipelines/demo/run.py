"""`railcast demo` (`make demo`): the closed loop on the simulator, every stage an Airflow task.

A construction event (params `simulation.scenarios`) hits one corridor from its start day; the demo
runs the calendar day by day through Airflow (see pipelines.demo.days): `airflow standalone` by
default, the production deployment with `--stack production` (pipelines.demo.on_stack); it captures the
alert emails with a local SMTP server and writes the summary under RAILCAST_HOME/reports/demo.
A demo always starts clean: the previous demo's state under RAILCAST_HOME is removed first.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import os
import shutil
import time
from pathlib import Path

import yaml

from pipelines.config import Params, load_params, scenario
from pipelines.errors import StageError
from pipelines.storage import Layout, atomic_path

MARKER = "demo-params.yaml"  # the demo's params file; its presence marks RAILCAST_HOME as a demo's


def demo_params(params: Params, scenario_name: str, days: int | None) -> dict:
    """The params the demo's Airflow tasks load (RAILCAST_PARAMS): `params` with the scenario and days set."""
    raw = dataclasses.asdict(params)
    raw["simulation"]["scenario"] = scenario_name
    raw["simulation"]["days"] = int(days or params.simulation.days)
    return raw


def write_params(raw: dict, layout: Layout) -> Path:
    """Write the demo params (checked by the strict loader first) to RAILCAST_HOME/demo-params.yaml."""
    target = layout.root / MARKER
    with atomic_path(target) as tmp:
        tmp.write_text(yaml.safe_dump(raw, sort_keys=True))
        load_params(tmp)  # refuse to start Airflow on params its tasks could not load
    return target


def prepare_home(layout: Layout, say) -> None:
    """Start clean: remove a previous demo's state; refuse to touch a RAILCAST_HOME that is not a demo's."""
    root = layout.root
    if not root.exists() or not any(root.iterdir()):
        return
    if not (root / MARKER).exists():
        raise StageError(f"RAILCAST_HOME={root} holds state that a demo did not create; the demo starts "
                         f"clean and will not delete it: run `make clean` or set RAILCAST_HOME to another "
                         f"directory")
    say(f"removing the previous demo's state under {root} (a demo always starts from scratch)")
    for child in root.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def printer(t0: float):
    """A progress printer prefixed with the seconds since `t0`."""
    def say(message: str) -> None:
        print(f"[{time.monotonic() - t0:6.0f} s] {message}", flush=True)
    return say


def run(params: Params, layout: Layout, scenario_name: str = "construction", days: int | None = None,
        port: int | None = None, timeout_s: float = 900, say=None, stack: str = "embedded",
        live_hours: float = 0.0) -> dict:
    """Run the demo end to end on Airflow's `stack` profile (embedded or production); returns the
    summary (also written to reports/demo/summary.json)."""
    from pipelines.demo.session import run_session

    t0 = time.monotonic()
    say = say or printer(t0)
    scenario(params, scenario_name)  # a clear error for an unknown scenario before anything starts
    if stack == "production":
        from pipelines.demo.on_stack import stop_previous

        stop_previous(layout, say)  # a demo killed before it could stop its deployment
    prepare_home(layout, say)
    raw = demo_params(params, scenario_name, days)
    params_file = write_params(raw, layout)
    demo = load_params(params_file)
    return run_session(demo, layout, params_file, port=port, timeout_s=timeout_s, say=say, t0=t0,
                       stack=stack, live_hours=live_hours)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast demo`."""
    parser.add_argument("--scenario", default="construction",
                        help="simulation scenario (params.yaml simulation.scenarios; default construction)")
    parser.add_argument("--days", type=int, default=None,
                        help="simulated days (default simulation.days, 28)")
    parser.add_argument("--port", type=int, default=None,
                        help="Airflow API/UI port on 127.0.0.1 during the demo (default: a free port)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for any one DAG run")
    parser.add_argument("--live-hours", type=float, default=3.0,
                        help="simulated hours of the live segment after the calendar (simulator, poller, "
                             "railcast live and the API at 90x; default 3, 0 skips it)")
    parser.add_argument("--stack", choices=("embedded", "production"), default="embedded",
                        help="embedded: airflow standalone on SQLite (default); production: the `railcast "
                             "stack` deployment (PostgreSQL, Redis, 2 Celery workers, MLflow server, S3 "
                             "store) under the name railcast_demo")


def main(args: argparse.Namespace, params: Params) -> dict:
    """CLI front-end: run the demo; Ctrl-C stops Airflow and the SMTP server before exiting."""
    layout = Layout(params, args.home)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
    started = dt.datetime.now(dt.UTC)
    try:
        summary = run(params, layout, args.scenario, args.days, args.port, args.timeout, stack=args.stack,
                      live_hours=args.live_hours)
    except KeyboardInterrupt:
        print("\ninterrupted: Airflow and the SMTP server are stopped; the next `make demo` starts clean.",
              flush=True)
        return {"interrupted": True, "home": str(layout.root)}
    return {"summary": summary["reports"]["summary"], "html": summary["reports"]["html"],
            "elapsed_seconds": summary["elapsed_seconds"], "started": started.isoformat(timespec="seconds"),
            "home": os.fspath(layout.root)}
