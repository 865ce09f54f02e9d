"""Real services the production tests need, and the skip-or-fail rule.

Where a service is absent (a laptop) its tests skip with a message naming it; with
RAILCAST_REQUIRE_SERVICES=1 (set by .ci/run) they fail instead: a production test never skips in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REQUIRE = os.environ.get("RAILCAST_REQUIRE_SERVICES") == "1"
# The server and an account allowed to create databases; each test gets a database of its own.
POSTGRES = os.environ.get("RAILCAST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def unavailable(what: str, why: object) -> None:
    """Skip (a developer machine without the service) or fail (CI asks for every service)."""
    message = f"{what} is not available: {why}"
    if REQUIRE:
        pytest.fail(f"{message} (RAILCAST_REQUIRE_SERVICES=1: CI needs it)")
    pytest.skip(f"{message}; start it, or set RAILCAST_TEST_POSTGRES")


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards); yields its URL."""
    import sqlalchemy as sa

    admin_url = sa.make_url(POSTGRES)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"railcast_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        unavailable(f"PostgreSQL at {admin_url.render_as_string(hide_password=True)}", exc.orig)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def require_stack_services(redis_url: str) -> None:
    """What `railcast stack` needs: PostgreSQL (tried with a throwaway database), Redis and SeaweedFS's
    binary; skips or fails naming the one that is missing."""
    databases = postgres_database()
    next(databases)
    next(databases, None)
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {redis_url}", exc)
    try:
        from pipelines.ops.object_store import weed_binary

        weed_binary()
    except FileNotFoundError as exc:
        unavailable("the S3 store (SeaweedFS)", exc)


def state_database(kind: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point RAILCAST_DB_URL at a fresh PostgreSQL database ("postgresql") or unset it ("sqlite": the
    layout's file, `sqlite_url`); yields the URL and drops the database afterwards."""
    from pipelines.state import db

    if kind == "sqlite":
        monkeypatch.delenv(db.DB_URL_ENV, raising=False)
        yield sqlite_url
        return
    databases = postgres_database()
    url = next(databases)
    monkeypatch.setenv(db.DB_URL_ENV, url)
    yield url
    engine = db._ENGINES.pop((os.getpid(), url), None)
    if engine is not None:  # release its connections before the database is dropped
        engine.dispose()
    next(databases, None)


def start_object_store(root) -> object:
    """A real S3 store (SeaweedFS `weed mini`) on loopback with fresh random keys; the caller stops it."""
    import secrets

    from pipelines.ops.object_store import SeaweedStore

    store = SeaweedStore(root, access_key=f"rc{secrets.token_hex(8)}", secret_key=secrets.token_urlsafe(24))
    try:
        return store.start()
    except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
        unavailable("the S3 store (SeaweedFS)", exc)


def new_bucket(access) -> str:
    """A bucket of its own for one test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    access.filesystem().create_dir(name)
    return name
