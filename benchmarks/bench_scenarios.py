"""Acceptance figures of monitoring-triggered retraining on the simulator (the monitoring issue).

Every scenario is played through `pipelines.runtime.loop.run_loop` (the DAG task functions, the real monitor,
gate, MLflow registry and alias audit) on the full simulated network in a fresh data root, then read off
its summary: stationary (no retrain after the bootstrap), construction (alert day, retrain day, skill of
the promoted champion after the event against the pre-event skill, the first champion on the same
labels) and timetable_change (detected, retrained, promoted). Heavy: about 20-30 s per simulated day.
`RAILCAST_BENCH_SEEDS=7,8,9` and `RAILCAST_BENCH_SCENARIOS=construction,...` choose what runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time

from pipelines.config import Params, load_params, scenario
from pipelines.monitoring.skill import pooled_skill
from pipelines.runtime import loop
from pipelines.storage import Layout

# Calendar length per scenario: the 30 days; a timetable change is judged within days of day 15.
DAYS = {"construction": 30, "stationary": 30, "timetable_change": 20}
SCENARIOS = tuple(DAYS)
DRIFT_VERDICTS = ("drift", "deferred", "retrain")
SKILL_RATIO_TARGET = 0.9


def _day_no(first: dt.date, iso: str | None) -> int | None:
    """1-based calendar day of an ISO date."""
    return None if iso is None else (dt.date.fromisoformat(iso) - first).days + 1


def _first(records: list[dict], test) -> dict | None:
    return next((r for r in records if test(r)), None)


def is_drift(record: dict) -> bool:
    """A drift signal of the monitor (drift, deferred or retrain verdict on a drift check)."""
    return record["drift_verdict"] in DRIFT_VERDICTS and record.get("verdict_kind") == "drift"


def drift_retrains(records: list[dict]) -> list[dict]:
    """Records whose monitor verdict retrained for drift (the bootstrap is not counted)."""
    return [r for r in records if r.get("retrain") and r.get("verdict_kind") != "bootstrap"]


def event_figures(summary: dict, start_day: int) -> dict:
    """Detection, retrain and skill figures of a scenario whose regime changes on `start_day`."""
    first = dt.date.fromisoformat(summary["start_date"])
    records = summary["days_records"]
    post = [r for r in records if _day_no(first, r["day"]) >= start_day]
    signal = _first(post, is_drift)
    alert = _first(post, lambda r: r.get("alerted") and r.get("verdict_kind") == "drift")
    retrains = [r for r in drift_retrains(records) if _day_no(first, r["day"]) >= start_day]
    promoted = _first(retrains, lambda r: r["retrain"]["promoted"])
    boot = _first(records, lambda r: r.get("retrain") and r["retrain"]["promoted"])
    out = {"event_day": start_day, "first_drift_signal_day": _day_no(first, signal and signal["day"]),
           "first_alert_day": _day_no(first, alert and alert["day"]),
           "retrain_days": [_day_no(first, r["day"]) for r in retrains],
           "retrains": [r["retrain"] for r in retrains], "promoted": promoted is not None,
           "retrain_reasons": [r["drift_reason"] for r in retrains],
           "false_alarms_before_event": len([r for r in drift_retrains(records)
                                             if _day_no(first, r["day"]) < start_day]),
           "drift_signal_days_before_event": [_day_no(first, r["day"]) for r in records
                                              if is_drift(r) and _day_no(first, r["day"]) < start_day],
           "bootstrap_day": _day_no(first, boot and boot["day"]),
           "promoted_version": promoted and promoted["retrain"]["version"]}
    promoted_version = out["promoted_version"]
    out["skill"] = skill_figures(records, first, start_day, promoted_version, "daily_scores")
    return out


def skill_figures(records: list[dict], first: dt.date, start_day: int, promoted: str | None,
                  key: str) -> dict:
    """Pre-event skill of the champion; after the event, the promoted champion's and the first one's."""
    pre = [r[key] for r in records if r["champion_version"] and _day_no(first, r["day"]) < start_day]
    out = {"pre_event_skill": pooled_skill(pre), "pre_event_days": len(pre)}
    if promoted:
        after = [r[key] for r in records if r["champion_version"] == promoted]
        out |= {"post_event_days_scored": len(after), "post_event_skill_promoted": pooled_skill(after),
                "post_event_skill_first_champion": pooled_skill(after, "mae_without_retraining")}
        if out["pre_event_skill"] and out["post_event_skill_promoted"] is not None:
            ratio = out["post_event_skill_promoted"] / out["pre_event_skill"]
            out |= {"skill_ratio": round(ratio, 4), "skill_ratio_target": SKILL_RATIO_TARGET,
                    "skill_ratio_met": ratio >= SKILL_RATIO_TARGET}
    return out


def stationary_figures(summary: dict) -> dict:
    """Retrains after the bootstrap (target 0) and the champion's skill over the run."""
    records = summary["days_records"]
    first = dt.date.fromisoformat(summary["start_date"])
    scored = [r["daily_scores"] for r in records if r["champion_version"]]
    retrains = drift_retrains(records)
    return {"retrains_after_bootstrap": len(retrains), "target": 0,
            "retrain_days": [_day_no(first, r["day"]) for r in retrains],
            "retrain_reasons": [r["drift_reason"] for r in retrains],
            "drift_signal_days": [_day_no(first, r["day"]) for r in records if is_drift(r)],
            "drift_email_days": [_day_no(first, r["day"]) for r in records
                                 if r.get("alerted") and r.get("verdict_kind") == "drift"],
            "champion_days": len(scored), "skill_champion": pooled_skill(scored)}


def monitor_signals(params: Params, layout: Layout, summary: dict) -> dict[str, str]:
    """Per day, the drift signals the monitor's decision record raised (which checks fired); marks the
    summary's records `alerted` when the monitor sent an email that day."""
    from pipelines.monitoring import monitor

    out = {}
    for record in summary["days_records"]:
        decision = monitor.read_decision(params, layout, dt.date.fromisoformat(record["day"]))
        record["alerted"] = bool(decision.get("alert"))
        evidence = decision.get("evidence") or {}
        fired = sorted(k for k, v in (evidence.get("signals") or {}).items() if v)
        columns = (evidence.get("drift_share") or {}).get("columns") or []
        out[record["day"]] = f"[{', '.join(fired)}]" + (f" columns {columns}" if columns else "")
    return out


def play(name: str, seed: int, days: int) -> dict:
    """One scenario on one seed in a temporary data root; its figures and the loop's wall time."""
    params = load_params()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as root:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        t0 = time.perf_counter()
        layout = Layout(params, root)
        summary = loop.run_loop(params, layout, days, scenario=name, seed=seed,
                                progress=lambda line: print(f"[{name} seed {seed}] {line}", flush=True))
        wall = time.perf_counter() - t0
        signals = monitor_signals(params, layout, summary)
    start = scenario(params, name).start_day
    figures = stationary_figures(summary) if start is None or name == "stationary" else \
        event_figures(summary, start)
    return {"scenario": name, "seed": seed, "days": days, "wall_s": round(wall, 1),
            "s_per_simulated_day": round(wall / (days + 1), 1), **figures,
            "verdicts": {r["day"]: f"{r['drift_verdict']} {signals.get(r['day'], '')}".strip()
                         for r in summary["days_records"]}}


def run() -> dict:
    """Each chosen scenario on each chosen seed, one at a time (default: one seed, the params.yaml one)."""
    default_seed = str(load_params().simulation.seed)
    seeds = [int(x) for x in os.environ.get("RAILCAST_BENCH_SEEDS", default_seed).split(",")]
    names = os.environ.get("RAILCAST_BENCH_SCENARIOS", ",".join(SCENARIOS)).split(",")
    results = []
    for name in names:
        for seed in seeds:
            results.append(play(name, seed, DAYS[name]))
            print("RESULT " + json.dumps(results[-1], sort_keys=True), flush=True)
    return {"seeds": seeds, "results": results, "load_avg": os.getloadavg()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
