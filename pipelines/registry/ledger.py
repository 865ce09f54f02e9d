"""Alias moves as state-database transactions, and the reconcile step that repairs a torn one.

A move of `champion`, `previous` or `challenger` is one transaction on the state database: it takes
the registry lock (an UPDATE of the `registry_locks` row: a row lock every host sees on PostgreSQL, the
database's write lock on SQLite), records the move in `alias_moves`, sets the MLflow alias and commits.
The commit decides: a process killed before it leaves MLflow ahead of the history, and `reconcile` (run
inside every registry transaction, and by `score` and `monitor` before they trust the history) sets the
MLflow aliases back to what the committed history says, recording that it did so.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from pipelines.errors import StageError
from pipelines.registry import history, tracking
from pipelines.state.db import engine_for
from pipelines.state.tables import registry_locks
from pipelines.storage import Layout
from pipelines.timeutil import UTC

MANAGED = (tracking.CHAMPION, tracking.PREVIOUS, tracking.CHALLENGER)
LOCK_TIMEOUT_S = 120  # PostgreSQL's lock_timeout; SQLite waits its busy timeout (60 s)
log = logging.getLogger(__name__)


def default_actor() -> str:
    """Who moves an alias: $RAILCAST_ACTOR (e.g. the Airflow run), else the OS user."""
    return os.environ.get("RAILCAST_ACTOR") or getpass.getuser()


def _now() -> str:
    return dt.datetime.now(UTC).isoformat()


def _take_lock(conn: sa.Connection, who: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'"))
    try:
        conn.execute(registry_locks.update().where(registry_locks.c.name == "registry")
                     .values(holder=who[:256], since=_now()))
    except sa.exc.OperationalError as exc:
        raise StageError(f"could not take the registry lock: {exc.orig}; another promote, rollback or "
                         f"evaluate holds it (running, or hung: see registry_locks in the state "
                         f"database); retry when it ends") from exc


@contextmanager
def registry_transaction(layout: Layout, who: str, *, repair: bool = True) -> Iterator[sa.Connection]:
    """One state-database transaction holding the registry lock, with MLflow reconciled to the history.

    When the body fails, the transaction rolls back and a fresh reconcile undoes any alias the body
    had already set in MLflow (if that fails too, the next start does it).
    """
    try:
        with engine_for(layout).begin() as conn:
            _take_lock(conn, who)
            reconcile_in(conn, layout, who)
            yield conn
    except Exception:
        if repair:
            try:
                reconcile(layout, who)
            except Exception as exc:  # noqa: BLE001 - the original error is the one to report
                log.warning("reconcile after a failed registry transaction failed too (%s); the next "
                            "registry start will repair the aliases", exc)
        raise


def _differences(recorded: dict[str, str], actual: dict[str, str]) -> list[tuple]:
    """(alias, MLflow's version, the history's version) of each managed alias where they differ."""
    return [(alias, actual.get(alias), recorded.get(alias)) for alias in MANAGED
            if actual.get(alias) != recorded.get(alias)]


def reconcile_in(conn: sa.Connection, layout: Layout, who: str) -> list[dict]:
    """Set every managed MLflow alias to the history's (caller holds the lock); returns the repairs."""
    repairs = []
    for alias, found, recorded in _differences(history.recorded_aliases(conn), tracking.aliases(layout)):
        tracking.set_alias(layout, alias, recorded)
        entry = {"action": "reconcile", "alias": alias, "from": found, "to": recorded, "who": who,
                 "when": _now(), "why": f"MLflow said {found}, the committed history {recorded} (a move "
                                        f"that never committed); alias reset to the history"}
        history.insert(conn, entry)
        log.warning("reconciled alias %s: MLflow said %s, the committed history says %s; reset to %s",
                    alias, found, recorded, recorded)
        repairs.append(entry)
    return repairs


def reconcile(layout: Layout, who: str | None = None) -> list[dict]:
    """Make the MLflow aliases agree with the history; a read-only check when they already do."""
    with engine_for(layout).connect() as conn:
        recorded = history.recorded_aliases(conn)
    if not _differences(recorded, tracking.aliases(layout)):
        return []
    with registry_transaction(layout, who or default_actor(), repair=False) as conn:
        return reconcile_in(conn, layout, who or default_actor())


def move_alias(conn: sa.Connection, layout: Layout, alias: str, version: str | None, *, why: str,
               who: str, when: str) -> dict:
    """Record one move and set the MLflow alias (caller holds the lock; its commit makes the move).
    Moving an alias where it already points records nothing (a retried evaluate, say)."""
    before = tracking.get_alias(layout, alias)
    if before == version:
        return {"action": "unchanged", "alias": alias, "from": before, "to": version}
    entry = {"action": "move", "alias": alias, "from": before, "to": version, "why": why, "who": who,
             "when": when}
    seq = history.insert(conn, entry)
    tracking.set_alias(layout, alias, version)
    after = tracking.get_alias(layout, alias)
    if after != version:
        raise StageError(f"alias {alias} reads {after} after moving it to {version}: another writer bypassed "
                         f"the registry lock; inspect `railcast models`")
    if version is not None:  # a copy for people browsing MLflow; the history table is the record
        tag = {f"alias_move_{seq:05d}": json.dumps(entry, sort_keys=True)}
        tracking.set_version_tags(layout, version, tag)
    return entry
