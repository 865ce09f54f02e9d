"""The tables of Railcast's state database (SQLAlchemy Core); migrations/ creates and changes them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Every alias move and refused promotion, oldest first: the history score, monitor and the demo trust.
alias_moves = sa.Table(
    "alias_moves", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String(16), nullable=False),        # move | refused
    sa.Column("alias", sa.String(64), nullable=False),
    sa.Column("from_version", sa.String(32)),
    sa.Column("to_version", sa.String(32)),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("who", sa.String(256), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),            # ISO instant the move is recorded for
)

# One row per lock; a transaction that updates the row holds it until it ends (PostgreSQL: a row lock
# seen by every host; SQLite: the database's write lock). Holder and time are for people reading it.
registry_locks = sa.Table(
    "registry_locks", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(256)),
    sa.Column("since", sa.String(40)),
)

# The alert outbox: a message's bytes (stable Message-ID) and its delivery state. Times are UTC ISO
# strings with microseconds (fixed width, so they order as text). state: pending | sent | dead.
outbox_messages = sa.Table(
    "outbox_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(255), nullable=False, unique=True),
    sa.Column("alert_key", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("queued_at", sa.String(40), nullable=False),
    sa.Column("next_attempt_at", sa.String(40), nullable=False),
    sa.Column("lease_until", sa.String(40)),        # a flusher's claim; expired leases are free again
    sa.Column("last_error", sa.Text),
    sa.Column("done_at", sa.String(40)),
)

# Per recipient: pending | accepted (never sent to again) | dead (refused for good), with the reply.
outbox_recipients = sa.Table(
    "outbox_recipients", metadata,
    sa.Column("message", sa.Integer, sa.ForeignKey("outbox_messages.id"), primary_key=True),
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("code", sa.Integer),
    sa.Column("reply", sa.Text),
    sa.Column("updated_at", sa.String(40)),
)

# The monitor's verdict per service date (its incident state: which incident, alerted or not).
monitor_days = sa.Table(
    "monitor_days", metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("verdict", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("drifted", sa.Boolean),
    sa.Column("event_start", sa.String(10)),
    sa.Column("incident_key", sa.Text),
    sa.Column("champion", sa.String(32)),
    sa.Column("alerted", sa.Boolean, nullable=False),
)

# Drift events handed to the orchestrator (one per service date with a retrain verdict), and by whom:
# another run re-checking that date does not start a second retrain.
drift_events = sa.Table(
    "drift_events", metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("incident_key", sa.Text),
    sa.Column("window_end", sa.String(40), nullable=False),
    sa.Column("emitted_by", sa.String(256), nullable=False),
    sa.Column("emitted_at", sa.String(40), nullable=False),
)
