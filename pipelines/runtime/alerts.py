"""Durable alerts: what each alert says, its stable Message-ID, and raising it through the outbox.

The Message-ID derives from what the alert is about (dag/run/task, a decision, a drift incident), so
raising the same alert twice queues one message and a receiver can drop a duplicate delivery. The
outbox (`runtime.outbox`, in the state database) stores it before any send and delivers it.
Imported by DAG files at parse time: standard library only at the top.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

log = logging.getLogger(__name__)
DOMAIN = "railcast.local"


@dataclass(frozen=True)
class Alert:
    """One alert: the incident key fixes its Message-ID; `when` is the event time (never the clock)."""

    key: str
    subject: str
    body: str
    when: Any  # aware datetime
    attachments: tuple[str, ...] = ()  # files attached as they are (e.g. the drift report HTML)

    @property
    def digest(self) -> str:
        return hashlib.sha1(self.key.encode()).hexdigest()[:20]

    @property
    def message_id(self) -> str:
        return f"<{self.digest}@{DOMAIN}>"


def render(alert: Alert, sender: str, recipients: list[str]) -> bytes:
    """The RFC 5322 bytes of an alert (deterministic: same alert, same bytes)."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = f"[railcast] {alert.subject}"
    msg["Date"] = format_datetime(alert.when)
    msg["Message-ID"] = alert.message_id
    msg["X-Railcast-Key"] = alert.key
    msg.set_content(alert.body)
    from pipelines.storage import to_path  # a report may be an object in the dataset store

    for name in alert.attachments:
        path = to_path(name)
        if path.is_file():  # a report deleted since the alert was raised: the body still names it
            msg.add_attachment(path.read_bytes(), maintype="text", subtype="html", filename=path.name)
    if alert.attachments:
        msg.set_boundary(f"railcast-{alert.digest}")  # a fixed boundary keeps the bytes deterministic
    return msg.as_bytes()


def enqueue(params: Any, layout: Any, alert: Alert) -> str:
    """Store the alert in the outbox unless its Message-ID is already there; returns the Message-ID."""
    from pipelines.runtime import outbox

    data = render(alert, params.alerts.sender, list(params.alerts.recipients))
    outbox.enqueue(params, layout, alert.message_id, alert.key, alert.subject, data)
    return alert.message_id


def flush_outbox(params: Any, layout: Any) -> dict:
    """Deliver every message that is due (see `runtime.outbox`); logs what stays pending and why."""
    from pipelines.runtime import outbox

    result = outbox.flush(params, layout)
    if result.get("error"):
        log.warning("alert delivery failed, %d message(s) stay pending: %s", result["pending"],
                    result["error"])
    return result


def raise_alert(params: Any, layout: Any, alert: Alert) -> dict:
    """Queue an alert durably, then try to deliver everything due."""
    return {"message_id": enqueue(params, layout, alert), **flush_outbox(params, layout)}


def failure_alert(context: Any) -> Alert:
    """The alert of a failed task instance, keyed by dag/run/task/try."""
    ti = context["ti"]
    dag_run = context.get("dag_run")
    when = getattr(ti, "end_date", None) or getattr(dag_run, "run_after", None)
    key = f"failure|{ti.dag_id}|{ti.run_id}|{ti.task_id}|{getattr(ti, 'map_index', -1)}|{ti.try_number}"
    exc = context.get("exception")
    body = (f"Task {ti.task_id} of DAG {ti.dag_id} failed (run {ti.run_id}, try {ti.try_number}).\n\n"
            f"Error: {type(exc).__name__ if exc else 'unknown'}: {exc}\n\n"
            f"Open the task log in the Airflow UI (http://127.0.0.1:8080) for the full traceback.\n")
    return Alert(key, f"task failed: {ti.dag_id}.{ti.task_id}", body, when)


def decision_alert(decision: dict, promotion: dict) -> Alert:
    """The alert of a retrain decision: promoted, or refused with the gate's reason."""
    from pipelines.timeutil import parse_instant

    version = decision.get("version")
    if decision.get("dry_run"):
        would = "would be promoted" if decision.get("passed") else "would not be promoted"
        subject = f"dry run: model version {version} {would}"
        verdict = "Dry run: evaluated and recorded; no alias was moved."
    elif promotion.get("moved"):
        subject = f"model version {version} promoted to champion"
        verdict = f"Promoted: champion is now {version} (previous: {promotion.get('previous')})."
    else:
        subject = f"model version {version} not promoted"
        verdict = f"Refused: {promotion.get('reason') or decision.get('reason')}"
    body = (f"{verdict}\n\nGate: passed={decision.get('passed')}; {decision.get('reason')}\n"
            f"Champion compared against: {decision.get('champion_version')}\nas_of: {decision.get('as_of')}\n"
            f"Decision record: {decision.get('record_file')}\n")
    dry = "|dry" if decision.get("dry_run") else ""
    return Alert(f"decision|{version}|{decision.get('as_of')}{dry}", subject, body,
                 parse_instant(decision["as_of"]))


def monitor_alert(message: dict, day: str, window_end: Any) -> Alert:
    """The alert of a monitor verdict: the message the monitor worded, keyed by its incident."""
    return Alert(message.get("incident_key") or f"drift|{day}", message["subject"], message["body"],
                 window_end, tuple(message.get("attachments") or ()))


def late_raw_alert(late: dict, when: Any) -> Alert:
    """Raw data of built dates arrived after they were built: re-ingested, the dates need a rebuild."""
    keys, one_day = late["hours"], dt.timedelta(days=1)
    built = [dt.date.fromisoformat(d) for d in late["built_dates"]]
    days = ", ".join(late["built_dates"])
    body = (f"Raw polls arrived after their hours were ingested: {', '.join(keys)}.\n"
            f"Those hours are re-ingested, but service date(s) {days} were already built without them.\n\n"
            f"Rebuild them (a date is built by the run of the day after it): airflow backfill create "
            f"--dag-id build_dataset --from-date {built[0] + one_day} --to-date {built[-1] + one_day} "
            f"--reprocess-behavior completed\n")
    return Alert(f"late_raw|{'|'.join(keys)}", f"late raw data for built date(s) {days}", body, when)


def on_task_failure(context: Any) -> None:
    """on_failure_callback: queue and try to send the failure alert; never raises (it is a callback)."""
    try:
        from pipelines.runtime.context import Context

        ctx = Context.from_environment()  # the callback runs apart from the task: its own context
        raise_alert(ctx.params, ctx.layout, failure_alert(context))
    except Exception:  # a broken alert path must not mask the task's own failure
        log.exception("could not queue the failure alert")


def add_arguments(parser: Any) -> None:
    """Options of `railcast alerts`."""
    parser.add_argument("--state", choices=["pending", "sent", "dead", "all"], default="all",
                        help="list only messages in this state (default: all)")
    parser.add_argument("--flush", action="store_true", help="deliver what is due first")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def format_messages(counts: dict[str, int], listed: list[dict]) -> str:
    """Plain-text view of the outbox for a terminal: one line per message, one per recipient."""
    lines = ["outbox: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pending", "sent", "dead"))]
    for m in listed:
        lines.append(f"  {m['queued_at'][:19]}  {m['state']:<7} {m['subject']}  {m['message_id']}  "
                     f"attempts {m['attempts']}" + (f", next {m['next_attempt_at'][:19]}"
                                                     if m["state"] == "pending" else ""))
        for r in m["recipients"]:
            answer = f"  {r['code']} {r['reply']}" if r["code"] is not None else ""
            lines.append(f"      {r['address']:<32} {r['state']:<9}{answer}")
    return "\n".join(lines)


def main(args: Any, params: Any) -> dict | None:
    """`railcast alerts`: the outbox's messages and what the SMTP server said to each recipient."""
    from pipelines.runtime import outbox
    from pipelines.storage import Layout

    layout = Layout(params, args.home)
    flushed = flush_outbox(params, layout) if args.flush else None
    states = ("pending", "sent", "dead") if args.state == "all" else (args.state,)
    listed = [{k: v for k, v in m.items() if k != "content"} for m in outbox.messages(layout, states)]
    if args.json:
        return {"counts": outbox.counts(layout), "flushed": flushed, "messages": listed}
    print(format_messages(outbox.counts(layout), listed))
    return None
