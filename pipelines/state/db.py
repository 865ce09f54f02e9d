"""The state database: its URL, one migrated engine per process and URL, and transactions on it.

`RAILCAST_DB_URL` (e.g. `postgresql+psycopg://railcast@db.example:5432/railcast`) selects a shared
server; without it the database is SQLite at `RAILCAST_HOME/state/railcast.db`. The schema is brought
to the newest Alembic revision the first time a process opens a URL (idempotent, serialized across
processes), so no separate install step can be forgotten.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import sqlalchemy as sa

from pipelines.storage import Layout

DB_URL_ENV = "RAILCAST_DB_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK = 0x7261696C  # PostgreSQL advisory lock key of `migrate` ("rail")
_ENGINES: dict[tuple[int, str], sa.Engine] = {}


def database_url(layout: Layout) -> str:
    """$RAILCAST_DB_URL, else SQLite in the layout's data root."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{layout.root / 'state' / 'railcast.db'}"


def redacted(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return sa.make_url(url).render_as_string(hide_password=True)


def _create(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, connect_args={"timeout": 60})
    return sa.create_engine(url, pool_pre_ping=True)


def migrate(engine: sa.Engine) -> str:
    """Upgrade the schema to the newest revision; returns it. Safe to run from several processes at once."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # held to the end of the transaction, across hosts
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        return MigrationContext.configure(conn).get_current_revision()


def _migration_lock(engine: sa.Engine) -> AbstractContextManager:
    """SQLite: a file lock beside the database (one host by definition); PostgreSQL: none here."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    from filelock import FileLock

    return FileLock(f"{engine.url.database}.migrate.lock", timeout=120)


def engine_for(layout: Layout) -> sa.Engine:
    """This process's engine for the layout's database, migrated on first use."""
    url = database_url(layout)
    key = (os.getpid(), url)  # a forked task process must not reuse its parent's connections
    if key not in _ENGINES:
        engine = _create(url)
        try:
            migrate(engine)
        except sa.exc.OperationalError as exc:
            raise ConnectionError(f"state database {redacted(url)} is not reachable: {exc.orig}; "
                                  f"check {DB_URL_ENV} (or unset it for the local SQLite file)") from exc
        _ENGINES[key] = engine
    return _ENGINES[key]
