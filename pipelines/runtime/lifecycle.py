"""What the model-lifecycle tasks call: the monitor's alerts and drift events, and the retrain chain
(request -> train -> evaluate -> promote -> notify).

Every function takes the task's `Context`. The monitor and retrain DAG files import this module at
parse time: like `orchestration`, its top level imports only the standard library and the runtime's
light modules; stage modules are imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines.runtime import orchestration as orch
from pipelines.runtime.context import Context

APPROVE, REJECT = "Approve", "Reject"   # the approval step's options (a timeout answers Reject)


def retrain_request(conf: Mapping[str, Any] | None, events: Iterable[Mapping[str, Any]]) -> dict:
    """as_of and trigger of a retrain: a manual run's conf wins, else the drift events' latest window end."""
    from pipelines.errors import StageError

    conf = dict(conf or {})
    dry = {"dry_run": True} if conf.get("dry_run") else {}   # evaluate and record; move no alias
    if conf.get("reason") or conf.get("as_of"):
        if not conf.get("reason") or not conf.get("as_of"):
            raise StageError("a manual retrain needs conf {'reason': ..., 'as_of': ISO instant}")
        return {"as_of": orch.instant(conf["as_of"]).isoformat(),
                "trigger": {"kind": "manual", "reason": str(conf["reason"])}, **dry}
    events = [dict(e) for e in events if e.get("window_end")]
    if not events:
        raise StageError("retrain needs a drift event with extra.window_end or conf with reason and as_of")
    latest = max(events, key=lambda e: orch.instant(e["window_end"]))
    evidence = {str(e.get("day", e["window_end"])): e.get("evidence") for e in events}
    # The monitor's first model comes through the same asset: its evidence says kind "bootstrap"; the
    # retrain completing its training window says "warm_up".
    kinds = {(e.get("evidence") or {}).get("kind") for e in events}
    kind = next(iter(kinds)) if kinds in ({"bootstrap"}, {"warm_up"}) else "drift"
    return {"as_of": orch.instant(latest["window_end"]).isoformat(),
            "trigger": {"kind": kind, "evidence": orch.jsonable(evidence)}, **dry}


def train_model(ctx: Context, request: Mapping[str, Any]) -> dict:
    """Train a challenger as of the request's instant; returns version, as_of and headline numbers."""
    result = orch.run_stage(ctx, "train", as_of=orch.instant(request["as_of"]),
                            trigger=dict(request["trigger"]))
    return {**result, "as_of": request["as_of"], "dry_run": bool(request.get("dry_run"))}


def evaluate_model(ctx: Context, trained: Mapping[str, Any]) -> dict:
    """Gate the trained version; returns the decision record's path and headline (not the whole record)."""
    record = orch.run_stage(ctx, "evaluate", version=str(trained["version"]),
                            as_of=orch.instant(trained["as_of"]), dry_run=bool(trained.get("dry_run")))
    keep = ("version", "champion_version", "as_of", "passed", "reason", "record_file", "dry_run")
    return {k: record.get(k) for k in keep}


def approval_request(ctx: Context, decision: Mapping[str, Any]) -> str:
    """The approver's view of a decision (Markdown: the checks, the record), or "" when no approval is
    needed: gate.require_approval off, a dry run, or a refused gate (nothing to approve)."""
    from pipelines.storage import read_json

    if not ctx.params.gate.require_approval or decision.get("dry_run") or not decision.get("passed"):
        return ""
    record = read_json(decision["record_file"])
    rows = [f"| {c['name']} | {_number(c['value'])} | {_number(c['threshold'])} | "
            f"{'yes' if c['passed'] else 'NO'} | {_markdown_text(c['reason'])} |" for c in record["checks"]]
    return "\n".join([
        f"Model version **{record['version']}** passed the gate against champion "
        f"**{record['champion_version'] or 'none'}** on the holdout days {', '.join(record['holdout_days'])} "
        f"({record['rows']} departures, as of {record['as_of']}).", "",
        "| check | value | threshold | passed | reason |", "|---|---|---|---|---|", *rows, "",
        f"Decision record: `{decision['record_file']}`", "",
        f"Approve to make it the champion; Reject keeps the current one. No answer within "
        f"{ctx.params.gate.approval_timeout_h:g} h rejects it."])


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def _markdown_text(text: str) -> str:
    """A reason for a Markdown table cell: board strings (line names) can hold markup."""
    import html

    return html.escape(text).replace("|", "\\|").replace("`", "'")


def approval_verdict(response: Mapping[str, Any] | None) -> dict | None:
    """The approval step's answer as the registry records it, or None when no approval was asked."""
    if not response:
        return None
    user = response.get("responded_by_user") or {}
    comment = str((response.get("params_input") or {}).get("comment") or "")
    approved = list(response.get("chosen_options") or []) == [APPROVE]
    return {"approved": approved, "by": str(user.get("name") or user.get("id") or "unknown"),
            "at": str(response.get("responded_at")), "comment": comment}


def approval_timeout() -> dt.timedelta:
    """How long the approval step waits (gate.approval_timeout_h), read when the DAG is parsed."""
    return dt.timedelta(hours=Context.from_environment().params.gate.approval_timeout_h)


def promote_model(ctx: Context, decision: Mapping[str, Any], actor: str | None = None,
                  approval: Mapping[str, Any] | None = None) -> dict:
    """Promote from the decision record file the evaluate task wrote; `actor` is audited (the run)."""
    from pipelines.storage import read_json

    record = read_json(decision["record_file"])
    return orch.run_stage(ctx, "promote", decision=record, actor=actor,
                          approval=dict(approval) if approval else None)


def monitor_days(ctx: Context, days: Iterable[dt.date], window_end: Any, emitter: str) -> list[dict]:
    """Run monitor per day; send the alerts it asks for; return the drift events ("retrain" verdicts)
    that no other run than `emitter` (the Airflow run id) has emitted before."""
    from pipelines.monitoring import history
    from pipelines.runtime import alerts

    end = orch.instant(window_end)
    events = []
    for date in days:
        day = date.isoformat()
        # the monitor decides and words its alert: once per incident (its first drift verdict, the
        # bootstrap, an empty window); the outbox queues it durably before the monitor goes on
        def deliver(alert: dict, day: str = day) -> dict:
            return alerts.raise_alert(ctx.params, ctx.layout, alerts.monitor_alert(alert, day, end))

        result = orch.run_stage(ctx, "monitor", day=date, deliver=deliver)
        key = (result.get("evidence") or {}).get("incident_key")
        if result.get("verdict") == "retrain" and history.claim_event(ctx.layout, day, key, end.isoformat(),
                                                                       emitter):
            events.append({"day": day, "window_end": end.isoformat(),
                           "evidence": orch.jsonable(result.get("evidence"))})
    return events


def notify_decision(ctx: Context, decision: Mapping[str, Any], promotion: Mapping[str, Any]) -> dict:
    """Email the retrain decision (promoted, or refused with its reason) through the outbox."""
    from pipelines.runtime import alerts

    return alerts.raise_alert(ctx.params, ctx.layout, alerts.decision_alert(dict(decision), dict(promotion)))
