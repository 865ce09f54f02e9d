"""The monitor's history in the state database: each service date's verdict and the drift events sent.

The verdicts are the monitor's incident state (was this incident alerted already? when did the drift
start?), read back by later days; the events record which run handed a retrain to the orchestrator.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pipelines.state.db import engine_for
from pipelines.state.tables import drift_events, monitor_days
from pipelines.storage import Layout
from pipelines.timeutil import UTC

FIELDS = ("day", "verdict", "reason", "drifted", "event_start", "incident_key", "champion", "alerted")


def record_day(layout: Layout, record: dict) -> None:
    """Store (or replace, for a re-run) one service date's verdict."""
    values = {k: record.get(k) for k in FIELDS}
    values["alerted"] = bool(values["alerted"])
    with engine_for(layout).begin() as conn:
        conn.execute(monitor_days.delete().where(monitor_days.c.day == values["day"]))
        conn.execute(monitor_days.insert().values(**values))


def day_record(layout: Layout, day: dt.date) -> dict:
    """The verdict of `day`, {} when the monitor has not judged it."""
    with engine_for(layout).connect() as conn:
        row = conn.execute(sa.select(monitor_days)
                           .where(monitor_days.c.day == day.isoformat())).mappings().first()
    return dict(row) if row else {}


def days_before(layout: Layout, day: dt.date) -> list[dict]:
    """The verdicts of the service dates before `day`, oldest first."""
    with engine_for(layout).connect() as conn:
        rows = conn.execute(sa.select(monitor_days).where(monitor_days.c.day < day.isoformat())
                            .order_by(monitor_days.c.day)).mappings().all()
    return [dict(r) for r in rows]


def claim_event(layout: Layout, day: str, incident_key: str | None, window_end: str, emitter: str) -> bool:
    """True when `emitter` may hand the drift event of `day` to the orchestrator: nobody has yet, or it
    did itself (a retry of the same run must re-emit what its failed try could not)."""
    now = dt.datetime.now(UTC).isoformat(timespec="microseconds")
    owner = sa.select(drift_events.c.emitted_by).where(drift_events.c.day == day)
    engine = engine_for(layout)
    try:
        with engine.begin() as conn:
            taken = conn.execute(owner).scalar()
            if taken is None:
                conn.execute(drift_events.insert().values(day=day, incident_key=incident_key,
                                                          window_end=window_end, emitted_by=emitter,
                                                          emitted_at=now))
                return True
    except sa.exc.IntegrityError:  # another run claimed it between our read and our insert
        with engine.connect() as conn:
            taken = conn.execute(owner).scalar()
    return taken == emitter


def clear(layout: Layout) -> None:
    """Forget every verdict and event (a benchmark replaying scenarios in one data root)."""
    with engine_for(layout).begin() as conn:
        conn.execute(drift_events.delete())
        conn.execute(monitor_days.delete())
