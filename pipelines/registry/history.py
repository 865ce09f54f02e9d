"""The alias history: every recorded move and refusal, and who was champion at an instant.

`score`, `monitor`, the loop and the demo all ask "who was champion at t" here, so a day is scored and
monitored with the same model. The history is the `alias_moves` table of the state database
(`pipelines.state`): SQLite under RAILCAST_HOME, or the PostgreSQL of RAILCAST_DB_URL shared by hosts.
Rows are only ever inserted; alias moves are written by `ledger` inside the registry lock's
transaction, together with the MLflow alias they record.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pipelines.registry import tracking
from pipelines.state.db import engine_for
from pipelines.state.tables import alias_moves
from pipelines.storage import Layout
from pipelines.timeutil import parse_instant

# entry key <-> column: entries keep the shape the audit log always had
_COLUMNS = {"action": "action", "alias": "alias", "from": "from_version", "to": "to_version",
            "why": "why", "who": "who", "when": "at"}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def read_audit(layout: Layout) -> list[dict]:
    """Every recorded alias move and refusal, oldest first."""
    with engine_for(layout).connect() as conn:
        rows = conn.execute(sa.select(alias_moves).order_by(alias_moves.c.id)).mappings().all()
    return [{key: row[column] for key, column in _COLUMNS.items()} for row in rows]


def insert(conn: sa.Connection, entry: dict) -> int:
    """Add one entry inside the caller's transaction; returns its sequence number."""
    values = {column: _text(entry.get(key)) for key, column in _COLUMNS.items()}
    return conn.execute(alias_moves.insert().values(**values)).inserted_primary_key[0]


def append_audit(layout: Layout, entry: dict) -> dict:
    """Record one entry in a transaction of its own, committed before this returns."""
    with engine_for(layout).begin() as conn:
        insert(conn, entry)
    return entry


def recorded_aliases(conn: sa.Connection) -> dict[str, str]:
    """alias -> version after the last committed move of each alias (aliases moved to None left out)."""
    rows = conn.execute(sa.select(alias_moves.c.alias, alias_moves.c.to_version)
                        .where(alias_moves.c.action == "move").order_by(alias_moves.c.id)).all()
    latest = dict(rows)
    return {alias: version for alias, version in latest.items() if version is not None}


def champion_moves(layout: Layout, instant: dt.datetime | None = None) -> list[dict]:
    """Moves of the champion alias, oldest first; with `instant`, only those at or before it."""
    return [e for e in read_audit(layout) if e["action"] == "move" and e["alias"] == tracking.CHAMPION
            and (instant is None or parse_instant(e["when"]) <= instant)]


def champions_at(layout: Layout, instant: dt.datetime | None = None) -> tuple[str | None, str | None]:
    """(champion, first champion ever promoted) at `instant` (default: after every recorded move)."""
    moves = champion_moves(layout, instant)
    promoted = [e["to"] for e in moves if e["to"] is not None]
    current = moves[-1]["to"] if moves else None
    return (str(current) if current else None), (str(promoted[0]) if promoted else None)


def champion_at(layout: Layout, instant: dt.datetime | None = None) -> str | None:
    """The champion at `instant` (default: the current one) per the history."""
    return champions_at(layout, instant)[0]


def first_champion(layout: Layout) -> str | None:
    """The first version ever promoted to champion (the score stage's shadow model)."""
    return champions_at(layout)[1]
