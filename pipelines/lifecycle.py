"""What the model-lifecycle tasks call: the monitor's alerts and drift events, and the retrain chain
(request -> train -> evaluate -> promote -> notify).

The monitor and retrain DAG files import this module at parse time: like `orchestration`, its top level
imports only the standard library and `orchestration`; stage modules are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipelines import orchestration as orch


def retrain_request(conf: Mapping[str, Any] | None, events: Iterable[Mapping[str, Any]]) -> dict:
    """as_of and trigger of a retrain: a manual run's conf wins, else the drift events' latest window end."""
    from pipelines.errors import StageError

    conf = dict(conf or {})
    if conf.get("reason") or conf.get("as_of"):
        if not conf.get("reason") or not conf.get("as_of"):
            raise StageError("a manual retrain needs conf {'reason': ..., 'as_of': ISO instant}")
        return {"as_of": orch.instant(conf["as_of"]).isoformat(),
                "trigger": {"kind": "manual", "reason": str(conf["reason"])}}
    events = [dict(e) for e in events if e.get("window_end")]
    if not events:
        raise StageError("retrain needs a drift event with extra.window_end or conf with reason and as_of")
    latest = max(events, key=lambda e: orch.instant(e["window_end"]))
    evidence = {str(e.get("day", e["window_end"])): e.get("evidence") for e in events}
    # The monitor's first model comes through the same asset: its evidence says kind "bootstrap".
    kinds = {(e.get("evidence") or {}).get("kind") for e in events}
    kind = "bootstrap" if kinds == {"bootstrap"} else "drift"
    return {"as_of": orch.instant(latest["window_end"]).isoformat(),
            "trigger": {"kind": kind, "evidence": orch.jsonable(evidence)}}


def train_model(request: Mapping[str, Any]) -> dict:
    """Train a challenger as of the request's instant; returns version, as_of and headline numbers."""
    result = orch.run_stage("train", as_of=orch.instant(request["as_of"]), trigger=dict(request["trigger"]))
    return {**result, "as_of": request["as_of"]}


def evaluate_model(trained: Mapping[str, Any]) -> dict:
    """Gate the trained version; returns the decision record's path and headline (not the whole record)."""
    record = orch.run_stage("evaluate", version=str(trained["version"]), as_of=orch.instant(trained["as_of"]))
    keep = ("version", "champion_version", "as_of", "passed", "reason", "record_file")
    return {k: record.get(k) for k in keep}


def promote_model(decision: Mapping[str, Any], actor: str | None = None) -> dict:
    """Promote from the decision record file the evaluate task wrote; `actor` is audited (the run)."""
    from pipelines.storage import read_json

    record = read_json(decision["record_file"])
    return orch.run_stage("promote", decision=record, actor=actor)


def monitor_days(days: Iterable[str], window_end: Any) -> list[dict]:
    """Run monitor per day; send the alerts it asks for; return the drift events ("retrain" verdicts)."""
    from pipelines import alerts

    params, layout = orch.environment()
    events = []
    for day, result in orch.run_days("monitor", days).items():
        event = {"day": day, "window_end": orch.instant(window_end).isoformat(),
                 "evidence": orch.jsonable(result.get("evidence"))}
        # the monitor decides: once per incident (its first drift verdict, the bootstrap, an empty window)
        if result.get("alert"):
            alerts.raise_alert(params, layout, alerts.drift_alert(event))
        if result.get("verdict") == "retrain":
            events.append(event)
    return events


def notify_decision(decision: Mapping[str, Any], promotion: Mapping[str, Any]) -> dict:
    """Email the retrain decision (promoted, or refused with its reason) through the outbox."""
    from pipelines import alerts

    params, layout = orch.environment()
    return alerts.raise_alert(params, layout, alerts.decision_alert(dict(decision), dict(promotion)))
