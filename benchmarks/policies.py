"""Replaying one simulated calendar under different retraining policies (the policy benchmark's engine).

The data of a (scenario, seed) is built once: ingest and the build_dataset stages, the functions the
DAG tasks call. Each policy then gets its own RAILCAST_HOME whose datasets are hard links to those files
(a published file is only ever replaced by a rename, never changed in place) and its own registry and
state, and replays the days: score (03:00) -> the policy's decision -> train -> evaluate -> promote ->
notify, as the retrain DAG does.

- drift: the monitor decides (its bootstrap and drift verdicts, the product's behaviour)
- never: the bootstrap model, never retrained
- daily / weekly: a retrain every day / every 7th day after the bootstrap, each through the gate

Fixed policies bootstrap on the first day the monitor's own bootstrap rule holds, with the same as-of,
so every policy starts from the same first model.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.config import Params
from pipelines.monitoring import inputs as monitor_inputs
from pipelines.monitoring import skill
from pipelines.registry import tracking
from pipelines.runtime import lifecycle, loop_steps, outbox, schedule
from pipelines.runtime import orchestration as orch
from pipelines.runtime.context import Context
from pipelines.runtime.loop import in_calendar, loop_params
from pipelines.storage import Layout

POLICIES = ("drift", "never", "daily", "weekly")
EVERY = {"daily": 1, "weekly": 7}
SHARED = ("truth", "snapshots", "polls", "quarantine", "ledger", "departures", "features", "labels")


def build(params: Params, root: Path, scenario: str, seed: int, days: int,
          progress: Callable[[str], None] = print) -> tuple[Params, list[loop_steps.Tick]]:
    """Simulate and build every day of the calendar once into `root`; the params and ticks to replay."""
    params = loop_params(params, scenario, seed, days)
    ctx = Context(params, Layout(params, root))
    ticks = list(loop_steps.ticks(params, params.simulation.start_date, days))
    for i, tick in enumerate(ticks):
        orch.ingest_interval(ctx, tick.ingest[0], tick.ingest[1], schedule.SOURCE_SIMULATOR, scenario)
        built = in_calendar(params, orch.closed_days(ctx, *tick.ingest))
        for name in schedule.BUILD_STAGES:
            orch.run_days(ctx, name, built)
        progress(f"built tick {i + 1}/{len(ticks)}: {[d.isoformat() for d in built]}")
    return params, ticks


def fork(params: Params, data: Path, target: Path) -> Layout:
    """A fresh RAILCAST_HOME whose built datasets are hard links to `data`'s."""
    layout = Layout(params, data)
    for name in SHARED:
        source = Path(layout.dataset(name))
        if source.is_dir():
            shutil.copytree(source, target / source.relative_to(data), copy_function=os.link)
    return Layout(params, target)


def _request(ctx: Context, policy: str, days: list[dt.date], as_of: dt.datetime, since_bootstrap: int | None,
             events: list[dict]) -> dict | None:
    """The retrain request the policy makes at this tick, if any."""
    if policy == "drift":
        return lifecycle.retrain_request(None, events) if events else None
    if since_bootstrap is None:
        if any(monitor_inputs.bootstrap_ready(ctx.params, ctx.layout, d)[0] for d in days):
            return {"as_of": as_of.isoformat(), "trigger": {"kind": "bootstrap"}}
        return None
    if policy in EVERY and since_bootstrap > 0 and since_bootstrap % EVERY[policy] == 0:
        return {"as_of": as_of.isoformat(), "trigger": {"kind": "manual", "reason": f"{policy} schedule"}}
    return None


def replay(params: Params, layout: Layout, ticks: list[loop_steps.Tick], policy: str,
           progress: Callable[[str], None] = print, where: dict[str, str] | None = None) -> dict:
    """Play the built days under `policy`; its retrains, CPU seconds, emails and daily figures (also
    restricted to the event's segment `where`, e.g. {"corridor": "Rhein-Main"})."""
    ctx = Context(params, layout)
    retrains, cpu = [], {"retrain": 0.0, "monitor": 0.0}
    boot_tick = None
    for i, tick in enumerate(ticks):
        orch.run_days(ctx, "score", in_calendar(params, orch.closed_days(ctx, *tick.score)))
        days = in_calendar(params, orch.closed_days(ctx, *tick.monitor))
        as_of, events = tick.monitor[1], []
        if policy == "drift" and days:
            started = time.process_time()
            _, events = loop_steps.monitor_verdicts(ctx, days, as_of)
            cpu["monitor"] += time.process_time() - started
        request = _request(ctx, policy, days, as_of, None if boot_tick is None else i - boot_tick, events)
        if request is None:
            continue
        started = time.process_time()
        outcome = loop_steps.retrain(ctx, request, f"bench:{policy}")
        cpu["retrain"] += time.process_time() - started
        if boot_tick is None and tracking.get_alias(layout, tracking.CHAMPION) is not None:
            boot_tick = i
        retrains.append({"tick": i + 1, **outcome})
        progress(f"{policy} tick {i + 1}: {outcome['trigger']} retrain -> v{outcome['version']} "
                 f"{'PROMOTED' if outcome['promoted'] else 'kept champion: ' + str(outcome['reason'])[:80]}")
    final = ticks[-1].monitor[1] + dt.timedelta(days=2)   # every label of the calendar has matured
    first = params.simulation.start_date
    daily = [skill.daily_scores(params, layout, first + dt.timedelta(days=k), final)
             for k in range(params.simulation.days)]
    scoped = [skill.daily_scores(params, layout, first + dt.timedelta(days=k), final, where)
              for k in range(params.simulation.days)] if where else []
    return {"policy": policy, "retrains": retrains, "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
            "emails": len(outbox.messages(layout)), "daily": daily, "daily_scope": scoped,
            "board": board_rows(params, layout, final),
            "estimates": estimates(params, layout) if policy == "drift" else {},
            "verdicts": verdicts(params, layout) if policy == "drift" else {}}


def board_rows(params: Params, layout: Layout, as_of: dt.datetime) -> dict[str, dict]:
    """Per day, the champion's and the board forecast's MAE on the rows where the board showed one."""
    from pipelines import schema as s

    out = {}
    for k in range(params.simulation.days):
        day = params.simulation.start_date + dt.timedelta(days=k)
        if not layout.day_file("predictions", day).exists():
            continue
        rows = skill.labeled_rows(params, layout, day, as_of)
        rows = rows[rows[s.BOARD_FORECAST_AVAILABLE].astype(bool) & rows[s.PREDICTION].notna()]
        if len(rows):
            error = {column: float((rows[column] - rows[s.LABEL]).abs().mean())
                     for column in (s.PREDICTION, s.PRED_BOARD_FORECAST)}
            out[day.isoformat()] = {"n": len(rows), "mae_champion": error[s.PREDICTION],
                                    "mae_board": error[s.PRED_BOARD_FORECAST]}
    return out


def estimates(params: Params, layout: Layout) -> dict[str, float]:
    """Per day, the monitor's label-free estimate of the champion's MAE (made before labels matured)."""
    from pipelines.monitoring import monitor

    out = {}
    for k in range(params.simulation.days):
        day = params.simulation.start_date + dt.timedelta(days=k)
        evidence = monitor.read_decision(params, layout, day).get("evidence") or {}
        found = evidence.get("estimated_performance")
        if found and found.get("estimated_mae") is not None:
            out[day.isoformat()] = found["estimated_mae"]
    return out


def verdicts(params: Params, layout: Layout) -> dict[str, str]:
    """Per checked day, the monitor's verdict and its reason (why a drift did or did not retrain)."""
    from pipelines.monitoring import monitor

    out = {}
    for k in range(params.simulation.days):
        day = params.simulation.start_date + dt.timedelta(days=k)
        record = monitor.read_decision(params, layout, day)
        if record.get("verdict"):
            out[day.isoformat()] = f"{record['verdict']}: {record.get('reason', '')}"[:320]
    return out
