"""Stage `monitor`: drift and performance of the champion on a window of service dates; decides on retraining.

Writes `reports/drift/<day>/decision.json` (inputs, scores, thresholds, verdict, reason) and the
Evidently HTML report beside it, `monitoring/<day>.json` (the history persistence and cooldown read),
and logs both to the champion's MLflow run. Returns {"verdict", "reason", "evidence", "alert", ...}.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
from collections.abc import Callable

from pipelines.cli_args import add_day_list_arguments, day_list
from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.errors import StageError
from pipelines.monitoring import alert as monitor_alert
from pipelines.monitoring import cancellations
from pipelines.monitoring import checks as mc
from pipelines.monitoring import evidently_adapter as drift_adapter
from pipelines.monitoring import history as monitor_history
from pipelines.monitoring import inputs as mi
from pipelines.monitoring import rules as drift_rules
from pipelines.monitoring.served import live_performance
from pipelines.storage import Layout, read_json, write_json
from pipelines.timeutil import parse_instant


def _warm_up(params: Params, layout: Layout, day: dt.date, history: list[dict],
             champion: str) -> tuple[dt.date, int, int, int] | None:
    """(bootstrap day, its training days, days now, refused attempts) when a warm-up retrain of the
    bootstrap champion is due."""
    due = drift_rules.warm_up_due(history, day, champion, params.monitor) if params.monitor.warm_up else None
    if due is None:
        return None
    boot, tried = due
    then = mi.window_size(params, layout, boot)   # a bootstrap on a full window needs no warm-up
    if then >= params.train.window_days:
        return None
    now = mi.window_size(params, layout, day)
    return (boot, then, now, tried) if now >= params.train.window_days else None


def _decide(params: Params, layout: Layout, day: dt.date, drifted: bool, history: list[dict],
            champion: str) -> tuple[drift_rules.Decision, list[dt.date]]:
    """The verdict and the post-event days with matured labels of the incident it concerns (the drifting
    one, or one answered by a model that saw too few post-event days: its follow-up)."""
    follow_up, post = None, []
    if answered := drift_rules.answered_incident(history, day, champion):
        seen = len(mi.post_event_days(params, layout, *answered))
        follow_up = (answered[0], seen) if seen < params.monitor.settle_post_event_days else None
    if drifted:
        start = drift_rules.event_start(history, day, params.monitor.incident_quiet_windows)
    else:
        start = follow_up[0] if follow_up else None
    if start is not None:
        post = mi.post_event_days(params, layout, start, day)
    warm_up = None if drifted else _warm_up(params, layout, day, history, champion)
    decision = drift_rules.decide_drift(history, day, drifted, len(post), params.monitor, champion, follow_up,
                                        warm_up)
    return decision, post


def _without_champion(params: Params, layout: Layout, day: dt.date,
                      history: list[dict]) -> tuple[drift_rules.Decision, None, dict]:
    """No champion: bootstrap once there is enough data. The cancellation check needs no model, so a
    strike or storm before the first champion is still a drift incident (one email), not silence."""
    ready, why = mi.bootstrap_ready(params, layout, day)
    decision = drift_rules.decide_bootstrap(ready, why)
    surge = cancellations.cancellation_check(layout, mi.window_days(params, day), params.monitor)
    if not surge["drifted"]:
        return decision, None, {"kind": "bootstrap", "drifted": False, "cancellations": surge,
                                "incident_key": f"bootstrap|{day}" if ready else None}
    start = drift_rules.event_start(history, day, params.monitor.incident_quiet_windows)
    # no event_start on the verdict: a bootstrap is no incident's retrain (the rules tell them apart by it)
    decision = dataclasses.replace(decision, reason=f"{decision.reason}; cancellation surge since {start}")
    return decision, None, {"kind": "bootstrap", "drifted": True, "cancellations": surge,
                            "signals": {"cancellation_surge": True}, "incident_start": start.isoformat(),
                            "incident_key": f"drift|{start}"}


def judge(params: Params, layout: Layout, day: dt.date, version: str | None, reference: mi.Reference,
          history: list[dict]) -> tuple[drift_rules.Decision, object | None, dict]:
    """(decision, Evidently snapshot or None, evidence) of one window: bootstrap, empty window or drift."""
    if version is None:
        return _without_champion(params, layout, day, history)
    current = mi.read_window(params, layout, mi.window_days(params, day), version)
    refused = {"refused_days": current.attrs["refused_days"]}   # batches the features gate failed
    if current.empty:
        return (drift_rules.Decision(drift_rules.EMPTY_WINDOW, "no feature rows in the window"), None,
                {"kind": "empty_window", "drifted": None, "incident_key": f"empty_window|{day}",
                 "features_dir": str(layout.dataset("features")), **refused})
    ref, holdout = mi.drift_reference(params, layout, reference, version)
    if holdout.empty:
        raise StageError(f"monitor: the reference of champion {version} is empty; retrain or roll back")
    snapshot, checks = mc.check_window(params.monitor, ref, current, holdout)
    surge = cancellations.cancellation_check(layout, mi.window_days(params, day), params.monitor)
    checks = cancellations.with_check(checks, surge)
    decision, post = _decide(params, layout, day, checks["drifted"], history, version)
    start = decision.event_start.isoformat() if decision.event_start else None
    post_days = [d.isoformat() for d in post]
    return decision, snapshot, {"kind": decision.kind or "drift", **checks, "post_event_days": post_days,
                                "event_start": start, "incident_key": f"drift|{start}" if start else None,
                                **refused}


def _write(params: Params, layout: Layout, day: dt.date, evidence: dict, alert: dict | None) -> None:
    """The decision record (reports/drift/<day>/decision.json) and the day's verdict in the state database."""
    keep = ("day", "verdict", "reason", "drifted", "event_start", "incident_key", "champion")
    write_json({"day": evidence["day"], "verdict": evidence["verdict"], "reason": evidence["reason"],
                "evidence": evidence, "alert": alert, "thresholds": dataclasses.asdict(params.monitor),
                "inputs": {"window": evidence["window"], "champion": evidence["champion"]}},
               evidence["record"])
    monitor_history.record_day(layout, {**{k: evidence.get(k) for k in keep}, "alerted": alert is not None})


def run(params: Params, layout: Layout, day: dt.date, reference: mi.Reference | None = None,
        log_mlflow: bool = True, deliver: Callable[[dict], object] | None = None) -> dict:
    """Check service date `day`'s window; write the decision record and report; return verdict and alert.

    `deliver` (the orchestrator's durable outbox) gets the alert before the day is recorded as alerted
    and before anything is logged to MLflow: an outage there fails the run, never loses the email (a
    retry hands the same incident's alert over again, and the outbox keeps one per incident)."""
    reference = reference or mi.RegistryReference(params, layout)
    days = mi.window_days(params, day)
    folder = layout.dataset("reports") / "drift" / day.isoformat()
    history = mi.read_history(layout, day)
    version = reference.champion(day)
    decision, snapshot, found = judge(params, layout, day, version, reference, history)
    evidence = {"day": day.isoformat(), "champion": version, "as_of": close_time(params, day).isoformat(),
                "window": {"start": days[0].isoformat(), "end": days[-1].isoformat()},
                "record": str(folder / "decision.json"), "report": None, "event_start": None,
                "min_post_event_days": params.monitor.min_post_event_days, **found,
                "verdict": decision.verdict, "reason": decision.reason,
                "served_live": live_performance(layout, days, close_time(params, day))}
    if snapshot is not None:
        evidence["report"] = str(drift_adapter.save_html(snapshot, folder / "report.html"))
    evidence = json.loads(json.dumps(evidence, sort_keys=True, default=str))
    alert = monitor_alert.alert_for(evidence, history)
    if alert is not None and deliver is not None:
        deliver(alert)
    _write(params, layout, day, evidence, alert)
    if log_mlflow and version is not None:
        log_check(layout, reference, version, day, evidence)
    return {"day": day.isoformat(), "verdict": decision.verdict, "reason": decision.reason,
            "evidence": evidence, "alert": alert, "record": evidence["record"], "report": evidence["report"]}


def read_decision(params: Params, layout: Layout, day: dt.date) -> dict:
    """The decision record a monitor run wrote for `day` ({} when the day was not checked)."""
    path = layout.dataset("reports") / "drift" / day.isoformat() / "decision.json"
    return read_json(path) if path.exists() else {}


def log_check(layout: Layout, reference: mi.Reference, version: str, day: dt.date, evidence: dict) -> None:
    """Attach the decision record and report to the champion's MLflow run (registry.tracking)."""
    run_id = reference.run_id(version)
    if run_id is None:
        return
    from pipelines.registry import tracking
    from pipelines.storage import to_path

    files = {f"monitoring/{day}/decision.json": to_path(evidence["record"])}
    if evidence.get("report"):
        files[f"monitoring/{day}/report.html"] = to_path(evidence["report"])
    metrics = {"monitor_drift_share": (evidence.get("drift_share") or {}).get("share")}
    skill_now = ((evidence.get("skill") or {}).get("current") or {}).get("skill")
    metrics["monitor_skill"] = skill_now
    metrics["monitor_live_mae"] = (evidence.get("served_live") or {}).get("mae")
    metrics["monitor_estimated_mae"] = (evidence.get("estimated_performance") or {}).get("estimated_mae")
    tracking.log_to_run(layout, run_id, metrics={k: float(v) for k, v in metrics.items() if v is not None},
                        files=files, at=parse_instant(evidence["as_of"]))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast monitor`."""
    add_day_list_arguments(parser, "check (its window ending that day)")


def main(args: argparse.Namespace, params: Params) -> dict:
    """CLI front-end of `railcast monitor`."""
    layout = Layout(params, args.home)
    days = day_list(args, "monitor")
    results = {d.isoformat(): run(params, layout, d) for d in sorted(days)}
    return next(iter(results.values())) if len(results) == 1 else results
