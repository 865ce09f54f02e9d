"""Drift-triggered retraining against fixed schedules on the same simulated days (the adaptation issue).

For each scenario and seed the calendar is simulated and built once, then replayed under four policies
(`benchmarks/policies.py`): drift (Railcast's monitor decides), never, daily and weekly. Per policy:
mean daily MAE of the champion over the days after the bootstrap, MAE over the 7 days from the event,
retrains and promotions, CPU seconds of retraining (train + evaluate + promote) and of monitoring,
emails; for the drift policy the label-free estimate's correlation with the realized daily MAE.

The network is cut to `CORRIDORS` (params.yaml `simulation.corridors`; it holds each scenario's scope)
so the matrix fits on 2 cores: 4 of the 20 corridors, 6 of the 28 lines, 29 of the 64 stations, with the
construction's corridor, the storm's region (North) and the strike's class (ICE). A timetable change also
gets the corridors of the lines it opens and closes (Hamburg-Berlin, Hamburg-Hannover), without which it
would only renumber trains and shift times.
`RAILCAST_BENCH_SCENARIOS`, `RAILCAST_BENCH_SEEDS` (default 7,8,9), `RAILCAST_BENCH_DAYS` (30) and
`RAILCAST_BENCH_CORRIDORS` (comma-separated; "all" for the whole network), `RAILCAST_BENCH_POLICIES` and
`RAILCAST_BENCH_OVERRIDES` (JSON of dotted params keys, e.g. {"train.post_event_weight": 4}) choose what
runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import policies, policy_table
from benchmarks.policies import POLICIES
from benchmarks.policy_table import mean
from pipelines import schema as s
from pipelines.config import Params, Scenario, load_params, scenario
from pipelines.features.compute import corridor_of
from pipelines.monitoring.cancellations import cancelled_share
from pipelines.sources.simulator.network import build_network
from pipelines.sources.simulator.network_data import LINES
from pipelines.storage import Layout

SCENARIOS = ("stationary", "construction", "strike", "storm", "timetable_change", "seasonal_trend")
CORRIDORS = ("Rhein-Main", "Köln-Frankfurt", "Hamburg-Bremen", "Hamburg S-Bahn")
AFTER_EVENT_DAYS = 7


def policy_figures(result: dict, first: dt.date, event_day: int | None) -> dict:
    """The table row of one policy: MAE over the post-bootstrap days and the 7 days from the event."""
    daily = {d["day"]: d for d in result["daily"]}
    served = [d for d in result["daily"] if d.get("mae_champion") is not None]
    after = [r for r in result["retrains"] if r["trigger"] != "bootstrap"]
    out = {"mean_daily_mae": mean([d["mae_champion"] for d in served]), "days_scored": len(served),
           "retrains": len(after), "promotions": len([r for r in after if r["promoted"]]),
           "retrain_cpu_s": result["cpu_s"]["retrain"], "monitor_cpu_s": result["cpu_s"]["monitor"],
           "emails": result["emails"],
           "promotion_days": [r["tick"] for r in result["retrains"] if r["promoted"]],
           "refusals": {r["tick"]: str(r.get("reason"))[:200] for r in after if not r["promoted"]}}
    for key in ("daily", "daily_scope"):   # day -> [champion MAE, persistence MAE, labeled rows]
        out[key] = {d["day"]: [round(d["mae_champion"], 4), round(d["mae_persistence"], 4), d["n_labeled"]]
                    for d in result[key] if d.get("mae_champion") is not None}
    if result["verdicts"]:
        out["verdicts"] = {d: v for d, v in result["verdicts"].items() if not v.startswith("no_drift")}
    if event_day is not None:
        window = [(first + dt.timedelta(days=event_day - 1 + k)).isoformat() for k in range(AFTER_EVENT_DAYS)]
        out["mae_7d_after_event"] = mean([(daily.get(d) or {}).get("mae_champion") for d in window])
    board = result["board"]
    if board:
        n = sum(b["n"] for b in board.values())
        champion = sum(b["mae_champion"] * b["n"] for b in board.values()) / n
        mae_board = sum(b["mae_board"] * b["n"] for b in board.values()) / n
        out["gain_over_board"] = round(1 - champion / mae_board, 4)
    if result["estimates"]:
        pairs = [(e, daily[d]["mae_champion"]) for d, e in result["estimates"].items()
                 if (daily.get(d) or {}).get("mae_champion") is not None]
        if len(pairs) >= 3:
            est, real = zip(*pairs, strict=True)
            out["estimate_corr"] = round(float(np.corrcoef(est, real)[0, 1]), 3)
            out["estimate_mean_abs_error"] = round(float(np.mean(np.abs(np.subtract(est, real)))), 4)
    return out


def scope_rows(params: Params, event: Scenario) -> dict[str, list[str]] | None:
    """The rows an event hits, as a `where` filter: a construction's corridor (the simulator's name) is
    the feature corridors ('<first stop>-<last stop>') of its lines; other events have none."""
    if event.kind != "construction":
        return None
    lines = build_network(params.simulation.seed, params.simulation.corridors).lines
    hit = lines[lines["corridor"].isin(event.scope)]
    return {s.CORRIDOR: sorted({corridor_of("|".join(route)) for route in hit["route"]})}


def scenario_corridors(name: str, corridors: tuple[str, ...]) -> tuple[str, ...]:
    """The corridors a scenario runs on: `corridors` (empty: all), plus for a timetable change those of the
    lines it opens or closes (new categories for the model), which the default cut leaves out."""
    if not corridors or name != "timetable_change":
        return corridors
    changed = sorted({line[3] for line in LINES if line[8] != "all"})
    return corridors + tuple(c for c in changed if c not in corridors)


def play(name: str, seed: int, days: int, corridors: tuple[str, ...], chosen: tuple[str, ...] = POLICIES,
         overrides: dict | None = None) -> dict:
    """One (scenario, seed): build once, replay each policy; the figures per policy."""
    base = load_params(overrides=overrides)
    corridors = scenario_corridors(name, corridors)
    base = dataclasses.replace(base, simulation=dataclasses.replace(base.simulation, corridors=corridors))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    code = policy_table.code_version()
    say = lambda line: print(f"[{name} seed {seed}] {line}", flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix=f"bench-policies-{name}-") as tmp:
        t0 = time.perf_counter()
        params, ticks = policies.build(base, Path(tmp) / "data", name, seed, days, say)
        build_s = time.perf_counter() - t0
        built = Layout(params, Path(tmp) / "data")   # the departures every policy shares, cancelled or not
        calendar = [params.simulation.start_date + dt.timedelta(days=k) for k in range(days)]
        cancelled = {d.isoformat(): cancelled_share(built, [d])["share"] for d in calendar}
        rows, wall = {}, {}
        for policy in chosen:
            t1 = time.perf_counter()
            layout = policies.fork(params, Path(tmp) / "data", Path(tmp) / policy)
            event = scenario(params, name)
            where = scope_rows(params, event)
            result = policies.replay(params, layout, ticks, policy, say, where)
            event = event.start_day if name not in ("stationary", "seasonal_trend") else None
            rows[policy] = {**policy_figures(result, params.simulation.start_date, event), "code": code}
            wall[policy] = round(time.perf_counter() - t1, 1)
    return {"scenario": name, "seed": seed, "days": days, "build_s": round(build_s, 1), "replay_s": wall,
            "corridors": list(corridors) or "all", "cancelled_share": cancelled, "policies": rows}


def run() -> dict:
    """The chosen scenarios x seeds, one at a time."""
    names = os.environ.get("RAILCAST_BENCH_SCENARIOS", ",".join(SCENARIOS)).split(",")
    seeds = [int(x) for x in os.environ.get("RAILCAST_BENCH_SEEDS", "7,8,9").split(",")]
    days = int(os.environ.get("RAILCAST_BENCH_DAYS", "30"))
    chosen = os.environ.get("RAILCAST_BENCH_CORRIDORS", ",".join(CORRIDORS))
    corridors = () if chosen == "all" else tuple(chosen.split(","))
    which = tuple(os.environ.get("RAILCAST_BENCH_POLICIES", ",".join(POLICIES)).split(","))
    overrides = json.loads(os.environ.get("RAILCAST_BENCH_OVERRIDES", "{}"))
    results = []
    for name in names:
        for seed in seeds:
            results.append(play(name, seed, days, corridors, which, overrides))
            print("RESULT " + json.dumps(results[-1], sort_keys=True), flush=True)
    summary = policy_table.summarize(results)
    print(policy_table.markdown(summary), flush=True)
    return {"seeds": seeds, "days": days, "corridors": list(corridors) or "all", "overrides": overrides,
            "summary": summary, "results": results,
            "load_avg": os.getloadavg()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
