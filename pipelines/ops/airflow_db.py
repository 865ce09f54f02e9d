"""How Airflow's processes share its SQLite metadata DB: connect arguments (the
AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS* settings `airflow_local.airflow_env` gives every Airflow
process point here) and WAL mode.

The scheduler, the DAG processor, the API server, task supervisors and the `airflow` CLI all write one
SQLite file. With Python's default 5 s busy timeout, an `airflow backfill create` run beside a busy
scheduler on a loaded 2-core machine failed with "database is locked" halfway through. Every Airflow
process imports this module: standard library only, no side effects.

The busy timeout covers a writer waiting for another writer. It cannot help when SQLite sees a possible
deadlock (a reader that wants to write while a writer waits to commit): SQLite then answers "database is
locked" at once, which one fresh-clone suite still met. In WAL mode readers and the writer do not block
each other, so `use_wal` puts the file in WAL mode (the file keeps it) before Airflow starts.
"""

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_S = 60.0
SYNC = {"timeout": BUSY_TIMEOUT_S}   # sqlite3.connect(timeout=...): wait for a lock this long
ASYNC = {"timeout": BUSY_TIMEOUT_S}  # aiosqlite passes it on to sqlite3.connect


def use_wal(sql_alchemy_conn: str) -> None:
    """Put Airflow's SQLite metadata DB in WAL mode (creating the file if missing); other URLs untouched."""
    if not sql_alchemy_conn.startswith("sqlite:///"):
        return
    path = Path(sql_alchemy_conn.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()
