"""The demo's live segment: a few simulated hours of predictions made while the trains run.

On the day after the calendar, from 06:00 Berlin, the simulator's HTTP server runs at an accelerated
clock, the poller polls every board with `--clock server --speed`, `railcast live` predicts each decided
departure with the champion and `railcast serve` answers GET /v1/predictions: the four processes a
deployment runs, with the demo's data root, registry and (production profile) object store. The
segment is then judged against the simulator's truth: the lead time of each prediction (its decision
to the train's true arrival) and the MAE on the arrivals that happened before the segment ended, beside
persistence and the destination board's own forecast on the same departures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.ops.mail_capture import free_port
from pipelines.ops.process_tree import Service
from pipelines.serving import stream
from pipelines.storage import Layout, read_frame
from pipelines.timeutil import local_midnight_utc

SPEED = 90.0           # simulated seconds per second: three simulated hours take two minutes
START_HOUR = 6         # Berlin hour the segment starts (the morning peak)
RATE_PER_MIN = 60.0    # the poller's budget against the simulator (64 boards every 3 min need 21.3)


class Railcast(Service):
    """One `railcast` command as a child process, its output in the demo's log folder."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path,
                 probe: str | None = None) -> None:
        self.name, self.args, self.env, self.log, self.probe = name, args, env, log, probe

    def start(self) -> Railcast:
        self.spawn([sys.executable, "-m", "pipelines", *self.args], self.env, self.log)
        if self.probe:
            self.wait_ready(lambda: urllib.request.urlopen(self.probe, timeout=5).status, 180)
        return self

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)


def child_env(layout: Layout, stack: str) -> dict[str, str]:
    """The environment of the segment's processes: the demo's data root, registry and store."""
    env = {**os.environ, "RAILCAST_HOME": str(layout.root)}
    if stack != "production":   # the embedded demo keeps everything under RAILCAST_HOME
        for name in ("MLFLOW_TRACKING_URI", "RAILCAST_DATA_URI"):
            env.pop(name, None)
    return env


def last_json(text: str) -> dict:
    """The JSON document a `railcast` command printed last (after its log lines)."""
    return json.loads(text[text.rindex("\n{\n") + 1:] if "\n{\n" in text else text[text.index("{"):])


def metric(port: int, name: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def run_segment(params_file: Path, layout: Layout, day: dt.date, hours: float, stack: str,
                say) -> dict[str, Any]:
    """Run the four processes for `hours` simulated hours of `day`; returns what the API answered."""
    began = time.monotonic()
    start = local_midnight_utc(day) + dt.timedelta(hours=START_HOUR)
    env, logs = child_env(layout, stack), layout.root / "reports" / "demo" / "live"
    sim, api, scrape = free_port(), free_port(), free_port()
    common = ["--params", str(params_file)]
    say(f"live segment: {hours:g} simulated hours of {day} from {START_HOUR:02d}:00 Berlin at {SPEED:g}x")
    simulator = ["simulator", *common, "serve", "--port", str(sim), "--start", start.isoformat(),
                 "--speed", str(SPEED)]
    scorer = ["live", *common, "--since", start.isoformat(), "--interval-s", "0.5", "--metrics-port",
              str(scrape), "--reload-seconds", "5"]
    with ExitStack() as running:   # stopped in reverse order, also on errors and Ctrl-C
        running.enter_context(Railcast("simulator", simulator, env, logs / "simulator.log",
                                       f"http://127.0.0.1:{sim}/Dortmund%20Hbf.json"))
        live = running.enter_context(Railcast("live", scorer, env, logs / "live.log"))
        running.enter_context(Railcast("api", ["serve", *common, "--port", str(api), "--reload-seconds", "5"],
                                       env, logs / "api.log", f"http://127.0.0.1:{api}/healthz"))
        poll = ["ingest", *common, "poll", "--all", "--base-url", f"http://127.0.0.1:{sim}", "--clock",
                "server", "--speed", str(SPEED), "--rate-limit-per-min", str(RATE_PER_MIN), "--duration-s",
                str(hours * 3600 / SPEED), "--writer-id", "demo-live"]
        poller = Railcast("poller", poll, env, logs / "poller.log").start()
        poller.wait(hours * 3600 / SPEED + 120)
        attempts = last_json(poller.log.read_text())["attempts"]
        deadline = time.monotonic() + 60   # the scorer reads the last attempts
        while time.monotonic() < deadline and (metric(scrape, "railcast_live_polls_total") or 0) < attempts:
            if live.proc.poll() is not None:
                raise RuntimeError(f"railcast live exited with {live.proc.returncode}: see {live.log}")
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{api}/v1/predictions?date={day}&limit=3",
                                    timeout=30) as response:
            answer = json.loads(response.read())
    end = start + dt.timedelta(hours=hours)
    return {"day": day.isoformat(), "start": start.isoformat(), "end": end.isoformat(), "speed": SPEED,
            "seconds": round(time.monotonic() - began, 1),
            "attempts": attempts, "api_count": answer["count"], "api_sample": answer["predictions"][:1],
            **judge(layout, day, end)}


def live_segment(params_file: Path, layout: Layout, day: dt.date, hours: float, stack: str,
                 say) -> dict[str, Any]:
    """`run_segment`, or what went wrong: the calendar's results stand without the segment."""
    try:
        return run_segment(params_file, layout, day, hours, stack, say)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        say(f"live segment failed: {exc}")
        return {"day": day.isoformat(), "error": f"{type(exc).__name__}: {exc}"}


def judge(layout: Layout, day: dt.date, end: dt.datetime) -> dict[str, Any]:
    """Lead time and MAE of the segment's champion predictions against the simulator's truth."""
    rows = stream.latest(stream.read_day(layout, day)).to_pandas()
    rows = rows[rows[s.ROLE] == "champion"]
    truth = read_frame(layout.day_file("truth", day))
    last = truth.sort_values(s.STOP_SEQ, kind="mergesort").groupby([s.SERVICE_DATE, s.TRAIN_NUMBER]).tail(1)
    last = last.assign(true_delay=(last[s.TRUE_ARRIVAL] - last[s.SCHEDULED_ARRIVAL]).dt.total_seconds() / 60)
    both = rows.merge(last[[s.SERVICE_DATE, s.TRAIN_NUMBER, s.TRUE_ARRIVAL, "true_delay"]],
                      on=[s.SERVICE_DATE, s.TRAIN_NUMBER]).dropna(subset=["true_delay"])
    lead = (both[s.TRUE_ARRIVAL] - both[s.DECIDED_AT]).dt.total_seconds() / 60
    matured = both[both[s.TRUE_ARRIVAL] <= pd.Timestamp(end)]

    def mae(column: str) -> float | None:
        known = matured.dropna(subset=[column])
        return round(float((known[column] - known["true_delay"]).abs().mean()), 2) if len(known) else None

    return {"predicted_departures": int(len(rows)), "with_true_arrival": int(len(both)),
            "lead_time_min": {"median": _round(lead.median()), "p10": _round(lead.quantile(0.1))},
            "matured": int(len(matured)),
            "mae_min": {"model": mae(s.PREDICTION), "persistence": mae(s.PRED_PERSISTENCE),
                        "board_forecast": mae(s.PRED_BOARD_FORECAST)}}


def _round(value: float) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 1)


def live_lines(live: dict[str, Any]) -> str:
    """The segment's result for the terminal and the HTML page."""
    if "error" in live:
        return f"live segment: {live['error']}"
    mae, lead = live["mae_min"], live["lead_time_min"]
    return (f"live segment {live['start'][:16]}-{live['end'][11:16]} UTC at {live['speed']:g}x: "
            f"{live['predicted_departures']} departures predicted while running ({live['attempts']} polls; "
            f"the API lists {live['api_count']}); lead time to the true arrival median {lead['median']} min, "
            f"p10 {lead['p10']} min; MAE on the {live['matured']} arrivals so far: model {mae['model']}, "
            f"persistence {mae['persistence']}, board forecast {mae['board_forecast']} min "
            f"[{live.get('seconds')} s]")
