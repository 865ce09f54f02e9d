"""The closed loop in-process: the simulated calendar, day by day, through the functions the DAG tasks call.

Per daily interval, in the order the DAGs run: `ingest` (simulator bulk path, then the raw-archive
ledger) -> `build_dataset` stages for the service dates that closed -> `score` (03:00 Berlin) ->
`monitor` (04:00) -> on a "retrain" verdict `train` -> `evaluate` -> `promote` -> `notify` with as_of =
the monitor interval's end. The monitor also decides the bootstrap (a "retrain" verdict of kind
"bootstrap" once there is enough data and no champion). After the last day the loop runs on until that
day has closed, so its labels mature and it is scored and monitored too.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.errors import StageError
from pipelines.monitoring import skill
from pipelines.registry.history import champion_moves
from pipelines.runtime import lifecycle, schedule
from pipelines.runtime import orchestration as orch
from pipelines.runtime.context import Context
from pipelines.runtime.loop_steps import Tick, monitor_verdicts, retrain, ticks
from pipelines.storage import Layout, write_json

Monitor = Callable[[Context, list[dt.date], dt.datetime], tuple[dict[str, dict], list[dict]]]


def loop_params(params: Params, scenario: str, seed: int, days: int) -> Params:
    """params with the loop's scenario, simulation seed and calendar length."""
    # simulation.days is the calendar length scenarios run to (a construction without end_day lasts to it)
    sim = dataclasses.replace(params.simulation, seed=seed, scenario=scenario, days=days)
    return dataclasses.replace(params, simulation=sim)


def in_calendar(params: Params, days: list[dt.date]) -> list[dt.date]:
    """Service dates from simulation.start_date on: the day before holds only the runs crossing midnight."""
    return [d for d in days if d >= params.simulation.start_date]


def run_tick(ctx: Context, tick: Tick, scenario: str, monitor: Monitor, actor: str) -> dict[str, dict]:
    """One daily interval of every DAG; per service date monitored (ISO): its record."""
    orch.ingest_interval(ctx, tick.ingest[0], tick.ingest[1], schedule.SOURCE_SIMULATOR, scenario)
    orch.ingest_interval(ctx, tick.ingest[0], tick.ingest[1], schedule.SOURCE_RAW)
    built = in_calendar(ctx.params, orch.closed_days(ctx, *tick.ingest))
    for name in schedule.BUILD_STAGES:
        orch.run_days(ctx, name, built)
    scored = orch.run_days(ctx, "score", in_calendar(ctx.params, orch.closed_days(ctx, *tick.score)))
    days = in_calendar(ctx.params, orch.closed_days(ctx, *tick.monitor))
    as_of = tick.monitor[1]
    verdicts, events = monitor(ctx, days, as_of)
    outcome = retrain(ctx, lifecycle.retrain_request(None, events), actor) if events else None
    records = {}
    for day in days:
        key = day.isoformat()
        result, verdict = scored.get(key, {}), verdicts.get(key, {})
        records[key] = {"day": key, "drift_verdict": verdict.get("verdict"),
                        "drift_reason": verdict.get("reason"),
                        "verdict_kind": (verdict.get("evidence") or {}).get("kind"),
                        "estimated_mae": ((verdict.get("evidence") or {}).get("estimated_performance")
                                          or {}).get("estimated_mae"),
                        "champion_version": result.get("model_version"),
                        "first_version": result.get("shadow_model_version"),
                        "retrain_triggered": key in {e["day"] for e in events}, "retrain": outcome,
                        "daily_scores": skill.daily_scores(ctx.params, ctx.layout, day, as_of)}
    if outcome and not days:  # a retrain with no day monitored (not expected): keep it in the summary
        records[f"{as_of:%Y-%m-%dT%H:%MZ}"] = {"retrain": outcome}
    return records


def progress_line(index: int, record: dict) -> str:
    """One line per monitored day: verdict, champion, skills, retrain outcome."""
    scores = record.get("daily_scores") or {}
    line = (f"day {index:2d} {record['day']}: verdict {record['drift_verdict']}, champion "
            f"{record['champion_version']}, skill {scores.get('skill_champion')} "
            f"(first {scores.get('skill_first')}, n {scores.get('n_labeled')})")
    outcome = record.get("retrain")
    if outcome:
        result = "PROMOTED" if outcome.get("promoted") else f"not promoted: {outcome.get('reason')}"
        kind = record.get("verdict_kind") or outcome["trigger"]  # the drift event does not say bootstrap
        line += f"; {kind} retrain -> v{outcome.get('version')} {result}"
    return line


def run_loop(params: Params, layout: Layout, days: int, *, scenario: str, seed: int,
             progress: Callable[[str], None] = print, monitor: Monitor | None = None) -> dict:
    """Play `days` simulated days of `scenario` through the DAG task functions; write and return the summary.

    `monitor(ctx, days, window_end) -> (verdict record per day, drift events)` defaults to the monitor DAG
    task's function (lifecycle.monitor_days) plus the decision records it wrote.
    """
    params = loop_params(params, scenario, seed, days)
    ctx = Context(params, layout)  # the loop's own params, passed down: nothing re-reads params.yaml
    actor = f"loop:{scenario}/seed-{seed}"
    first = params.simulation.start_date
    records: dict[str, dict] = {}
    for tick in ticks(params, first, days):
        for day, record in run_tick(ctx, tick, scenario, monitor or monitor_verdicts, actor).items():
            records[day] = record
            if "day" in record:
                progress(progress_line((dt.date.fromisoformat(day) - first).days + 1, record))
    summary = {"scenario": scenario, "seed": seed, "days": days, "start_date": first.isoformat(),
               "days_records": [records[k] for k in sorted(records)],
               "promotions": champion_moves(layout),
               "last_close": close_time(params, first + dt.timedelta(days=days - 1)).isoformat()}
    summary["summary_file"] = str(write_json(orch.jsonable(summary), summary_path(layout, scenario, seed)))
    return orch.jsonable(summary)


def summary_path(layout: Layout, scenario: str, seed: int) -> Path:
    """Where the loop summary of (scenario, seed) is written."""
    return layout.dataset("reports") / "loop" / f"{scenario}-seed-{seed}.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast loop`."""
    parser.add_argument("--days", type=int, default=None, help="simulated days (default simulation.days)")
    parser.add_argument("--scenario", default=None,
                        help="scenario of params.yaml (default simulation.scenario)")
    parser.add_argument("--seed", type=int, default=None, help="simulation seed (default simulation.seed)")


def main(args: argparse.Namespace, params: Params) -> dict:
    """CLI front-end: the closed loop into --home; prints a line per day."""
    if args.days is not None and args.days < 1:
        raise StageError("loop: --days must be at least 1")
    return run_loop(params, Layout(params, args.home), args.days or params.simulation.days,
                    scenario=args.scenario or params.simulation.scenario,
                    seed=args.seed if args.seed is not None else params.simulation.seed,
                    progress=lambda line: print(line, file=sys.stderr, flush=True))
