"""The alert outbox in the state database: at-least-once delivery that neither jams nor spams.

An alert is rendered once to RFC 5322 bytes (its Message-ID stable per incident) and stored with one
row per recipient before any send. A flush takes the messages that are due, one at a time under a lease
(an expired lease frees a message a crashed flusher held), sends the stored bytes to the recipients
still pending and records what the server answered for each:

- accepted: never sent to again;
- refused for good (5xx): that recipient is dead-lettered, kept and listed by `railcast alerts`;
- refused for now (4xx): stays pending; the message's next attempt backs off (`alerts.retry_base_s`,
  doubling, at most `alerts.retry_max_s`), and after `alerts.max_attempts` the recipient is dead too;
- server unreachable (down, timeout, login refused): nothing changes but the message's backoff, and the
  flush stops there (later messages would meet the same server).

A message is `sent` when every recipient accepted it, `dead` when none is pending and one was refused
for good, else `pending`. A crash between the server's acceptance and the record re-sends that message
once the lease expires: receivers drop the duplicate by its Message-ID.
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from typing import Any

import sqlalchemy as sa

from pipelines.runtime import smtp
from pipelines.state.db import engine_for
from pipelines.state.tables import outbox_messages as msgs
from pipelines.state.tables import outbox_recipients as rcpts
from pipelines.timeutil import UTC

LEASE = dt.timedelta(minutes=10)  # longer than any one SMTP exchange (the connection's timeout is 30 s)


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="microseconds")  # fixed width: orders as text


def enqueue(params: Any, layout: Any, message_id: str, key: str, subject: str, content: bytes) -> bool:
    """Store a rendered message for every configured recipient; False when that Message-ID is known."""
    now = _iso(dt.datetime.now(UTC))
    engine = engine_for(layout)
    try:
        with engine.begin() as conn:
            pk = conn.execute(msgs.insert().values(
                message_id=message_id, alert_key=key, subject=subject, content=content, state="pending",
                attempts=0, queued_at=now, next_attempt_at=now)).inserted_primary_key[0]
            conn.execute(rcpts.insert(), [{"message": pk, "address": address, "state": "pending",
                                           "updated_at": now} for address in params.alerts.recipients])
    except sa.exc.IntegrityError:  # queued before (by this process or another): one message per incident
        return False
    return True


def _backoff(params: Any, attempts: int) -> dt.timedelta:
    seconds = params.alerts.retry_base_s * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, params.alerts.retry_max_s))


def _claim(conn: sa.Connection, pk: int, now: dt.datetime) -> bool:
    free = sa.or_(msgs.c.lease_until.is_(None), msgs.c.lease_until < _iso(now))
    claimed = conn.execute(msgs.update().where(msgs.c.id == pk, msgs.c.state == "pending",
                                               msgs.c.next_attempt_at <= _iso(now), free)
                           .values(lease_until=_iso(now + LEASE)))
    return claimed.rowcount == 1


def _retry_later(conn: sa.Connection, params: Any, pk: int, now: dt.datetime, error: str) -> None:
    attempts = conn.execute(sa.select(msgs.c.attempts).where(msgs.c.id == pk)).scalar_one() + 1
    conn.execute(msgs.update().where(msgs.c.id == pk).values(
        attempts=attempts, next_attempt_at=_iso(now + _backoff(params, attempts)), lease_until=None,
        last_error=error))


def _record(conn: sa.Connection, params: Any, pk: int, tried: list[str], refused: smtp.Refusals,
            now: dt.datetime) -> str:
    """Store each recipient's answer and the message's resulting state; returns that state."""
    attempts = conn.execute(sa.select(msgs.c.attempts).where(msgs.c.id == pk)).scalar_one() + 1
    give_up = attempts >= params.alerts.max_attempts
    for address in tried:
        code, reply = refused.get(address, (250, "accepted"))
        state = "accepted" if address not in refused else "dead" if code >= 500 or give_up else "pending"
        reply = f"{reply} (gave up after {attempts} attempts)" if state == "dead" and code < 500 else reply
        conn.execute(rcpts.update().where(rcpts.c.message == pk, rcpts.c.address == address)
                     .values(state=state, code=code, reply=reply[:2000], updated_at=_iso(now)))
    states = set(conn.execute(sa.select(rcpts.c.state).where(rcpts.c.message == pk)).scalars())
    state = "pending" if "pending" in states else "dead" if "dead" in states else "sent"
    error = "; ".join(f"{a}: {c} {r}" for a, (c, r) in sorted(refused.items())) or None
    conn.execute(msgs.update().where(msgs.c.id == pk).values(
        state=state, attempts=attempts, lease_until=None, last_error=error,
        next_attempt_at=_iso(now + _backoff(params, attempts)) if state == "pending" else _iso(now),
        done_at=None if state == "pending" else _iso(now)))
    return state


def flush(params: Any, layout: Any, now: dt.datetime | None = None) -> dict:
    """Deliver what is due; returns how many messages got sent or dead-lettered, and what is pending."""
    now = now or dt.datetime.now(UTC)
    engine = engine_for(layout)
    with engine.connect() as conn:
        due = conn.execute(sa.select(msgs.c.id).where(msgs.c.state == "pending",
                                                      msgs.c.next_attempt_at <= _iso(now))
                           .order_by(msgs.c.id)).scalars().all()
    outcome: dict[str, Any] = {"sent": 0, "dead": 0}
    with ExitStack() as stack:
        send = None
        for pk in due:
            with engine.begin() as conn:
                if not _claim(conn, pk, now):
                    continue  # another flusher holds it, or it was delivered meanwhile
                row = conn.execute(sa.select(msgs.c.content).where(msgs.c.id == pk)).one()
                tried = list(conn.execute(sa.select(rcpts.c.address).where(
                    rcpts.c.message == pk, rcpts.c.state == "pending").order_by(rcpts.c.address)).scalars())
            try:
                send = send or stack.enter_context(smtp.session(params.alerts.smtp_conn_id))
                refused = send(params.alerts.sender, tried, row.content)
            except smtp.Unreachable as exc:
                with engine.begin() as conn:
                    _retry_later(conn, params, pk, now, str(exc))
                outcome["error"] = str(exc)
                break
            with engine.begin() as conn:
                state = _record(conn, params, pk, tried, refused, now)
            if state != "pending":
                outcome[state] += 1
    return {**outcome, "pending": counts(layout).get("pending", 0)}


def counts(layout: Any) -> dict[str, int]:
    """Messages per state (pending, sent, dead): what an operator's metrics watch."""
    with engine_for(layout).connect() as conn:
        rows = conn.execute(sa.select(msgs.c.state, sa.func.count()).group_by(msgs.c.state)).all()
    return {state: int(n) for state, n in rows}


def messages(layout: Any, states: tuple[str, ...] = ("pending", "sent", "dead")) -> list[dict]:
    """Messages in the given states, oldest first, with each recipient's state and last answer."""
    with engine_for(layout).connect() as conn:
        found = conn.execute(sa.select(msgs).where(msgs.c.state.in_(states))
                             .order_by(msgs.c.id)).mappings().all()
        people = conn.execute(sa.select(rcpts).where(rcpts.c.message.in_([m["id"] for m in found]))
                              .order_by(rcpts.c.message, rcpts.c.address)).mappings().all()
    listed = []
    for m in found:
        record = {k: m[k] for k in ("message_id", "alert_key", "subject", "state", "attempts", "queued_at",
                                    "next_attempt_at", "last_error", "done_at")}
        record["recipients"] = [{k: p[k] for k in ("address", "state", "code", "reply")}
                                for p in people if p["message"] == m["id"]]
        record["content"] = bytes(m["content"])
        listed.append(record)
    return listed
