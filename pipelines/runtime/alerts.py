"""Durable alerts: every message is written to the outbox before any send and leaves it only once accepted.

Layout: `<outbox>/pending/<key>.eml` until the SMTP server accepts it, then `<outbox>/sent/<key>.eml`.
The Message-ID derives from what the alert is about (dag/run/task, a decision, a drift day), so
raising the same alert twice queues one message, and a receiver can drop a duplicate delivery
(a crash between the server's acceptance and the move to sent/ resends it: at-least-once).
Imported by DAG files at parse time: standard library only at the top.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import os
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from pipelines.runtime.smtp import send_message

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
    for name in alert.attachments:
        path = Path(name)
        if path.is_file():  # a report deleted since the alert was raised: the body still names it
            msg.add_attachment(path.read_bytes(), maintype="text", subtype="html", filename=path.name)
    if alert.attachments:
        msg.set_boundary(f"railcast-{alert.digest}")  # a fixed boundary keeps the bytes deterministic
    return msg.as_bytes()


def _dirs(layout: Any) -> tuple[Path, Path]:
    return layout.outbox / "pending", layout.outbox / "sent"


def enqueue(params: Any, layout: Any, alert: Alert) -> Path:
    """Write the alert to pending/ atomically, unless this Message-ID is already queued or sent."""
    from pipelines.storage import atomic_path

    pending, sent = _dirs(layout)
    name = f"{alert.digest}.eml"
    if (sent / name).exists() or (pending / name).exists():
        return sent / name if (sent / name).exists() else pending / name
    data = render(alert, params.alerts.sender, list(params.alerts.recipients))
    with atomic_path(pending / name) as tmp:
        tmp.write_bytes(data)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
    return pending / name


def pending_messages(layout: Any) -> list[Path]:
    """Messages not yet accepted by the server, oldest key first."""
    return sorted(_dirs(layout)[0].glob("*.eml"))


def flush_outbox(params: Any, layout: Any) -> dict:
    """Send every pending message; a message moves to sent/ only after the server accepted it."""
    from filelock import FileLock, Timeout

    pending, sent = _dirs(layout)
    if not pending.is_dir():
        return {"sent": 0, "pending": 0}
    done, error = 0, None
    try:
        # One flusher at a time: two would send the same file twice.
        with FileLock(str(layout.outbox / ".flush.lock"), timeout=5):
            for path in pending_messages(layout):
                msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.SMTP)
                try:
                    send_message(params.alerts.smtp_conn_id, msg)
                except OSError as exc:  # server down or refusing: keep it pending for the next flush
                    error = f"{type(exc).__name__}: {exc}"
                    break
                sent.mkdir(parents=True, exist_ok=True)
                os.replace(path, sent / path.name)
                done += 1
    except Timeout:
        log.info("another process is flushing the outbox")
    left = len(pending_messages(layout))
    if error:
        log.warning("alert delivery failed, %d message(s) stay pending: %s", left, error)
    return {"sent": done, "pending": left, **({"error": error} if error else {})}


def raise_alert(params: Any, layout: Any, alert: Alert) -> dict:
    """Queue an alert durably, then try to deliver everything pending."""
    path = enqueue(params, layout, alert)
    return {"message_id": alert.message_id, "file": str(path), **flush_outbox(params, layout)}


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
    if promotion.get("moved"):
        subject = f"model version {version} promoted to champion"
        verdict = f"Promoted: champion is now {version} (previous: {promotion.get('previous')})."
    else:
        subject = f"model version {version} not promoted"
        verdict = f"Refused: {promotion.get('reason') or decision.get('reason')}"
    body = (f"{verdict}\n\nGate: passed={decision.get('passed')}; {decision.get('reason')}\n"
            f"Champion compared against: {decision.get('champion_version')}\nas_of: {decision.get('as_of')}\n"
            f"Decision record: {decision.get('record_file')}\n")
    return Alert(f"decision|{version}|{decision.get('as_of')}", subject, body,
                 parse_instant(decision["as_of"]))


def monitor_alert(message: dict, day: str, window_end: Any) -> Alert:
    """The alert of a monitor verdict: the message the monitor worded, keyed by its incident."""
    return Alert(message.get("incident_key") or f"drift|{day}", message["subject"], message["body"],
                 window_end, tuple(message.get("attachments") or ()))


def on_task_failure(context: Any) -> None:
    """on_failure_callback: queue and try to send the failure alert; never raises (it is a callback)."""
    try:
        from pipelines.runtime.context import Context

        ctx = Context.from_environment()  # the callback runs apart from the task: its own context
        raise_alert(ctx.params, ctx.layout, failure_alert(context))
    except Exception:  # a broken alert path must not mask the task's own failure
        log.exception("could not queue the failure alert")
