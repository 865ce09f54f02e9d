"""The state database on both backends: migrations, the alias history, concurrent writers, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from pipelines.registry import history
from pipelines.state import db
from tests.services import state_database

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, layout, monkeypatch) -> str:
    """The layout's state database: the default SQLite file, or a fresh PostgreSQL database."""
    yield from state_database(request.param, db.database_url(layout), monkeypatch)


HEAD = sorted(p.name for p in (db.MIGRATIONS / "versions").glob("0*.py"))[-1][:4]  # e.g. "0003"


def move(to: str | None, when: str, action: str = "move", alias: str = "champion") -> dict:
    return {"action": action, "alias": alias, "from": None, "to": to, "why": "test", "who": "pytest",
            "when": when}


def test_migrations_are_idempotent_and_reach_the_newest_revision(backend, layout) -> None:
    engine = db.engine_for(layout)
    assert engine.url.get_backend_name() == sa.make_url(backend).get_backend_name()
    assert db.migrate(engine) == db.migrate(engine) == HEAD
    assert {"alembic_version", "alias_moves"} <= set(sa.inspect(engine).get_table_names())


def test_the_history_keeps_entries_in_order_and_answers_champion_at(backend, layout) -> None:
    import datetime as dt

    entries = [move("1", "2025-09-05T02:00:00+00:00"), move("3", "2025-09-06T02:00:00+00:00", "refused"),
               move("2", "2025-09-07T02:00:00+00:00"),
               move("1", "2025-09-07T02:00:00+00:00", alias="previous")]
    for entry in entries:
        history.append_audit(layout, entry)
    assert history.read_audit(layout) == entries
    on = dt.datetime(2025, 9, 6, 12, tzinfo=dt.UTC)
    assert history.champions_at(layout, on) == ("1", "1")
    assert history.champion_at(layout) == "2" and history.first_champion(layout) == "1"


WRITER = textwrap.dedent("""
    import sys
    from pipelines.config import load_params
    from pipelines.registry import history
    from pipelines.storage import Layout
    layout = Layout(load_params(), sys.argv[1])
    for i in range(int(sys.argv[3])):
        history.append_audit(layout, {"action": "move", "alias": sys.argv[2], "from": None, "to": str(i),
                                      "why": "race", "who": sys.argv[2], "when": "2025-09-05T02:00:00+00:00"})
""")


def test_two_processes_migrate_and_write_at_once_and_lose_nothing(backend, layout) -> None:
    """Both start on a database no one has migrated yet: one migrates, the other waits; every row lands."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(layout.root), name, "25"], env=env,
                                stderr=subprocess.PIPE, text=True) for name in ("host-a", "host-b")]
    errors = [w.communicate(timeout=180)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    rows = history.read_audit(layout)
    for name in ("host-a", "host-b"):
        assert [r["to"] for r in rows if r["who"] == name] == [str(i) for i in range(25)]


def test_an_unreachable_server_is_named_without_its_password(layout, monkeypatch) -> None:
    monkeypatch.setenv(db.DB_URL_ENV, "postgresql+psycopg://railcast:s3cret@127.0.0.1:1/railcast")
    with pytest.raises(ConnectionError) as caught:
        history.read_audit(layout)
    message = str(caught.value)
    assert "127.0.0.1:1" in message and db.DB_URL_ENV in message and "s3cret" not in message


def test_the_default_is_a_sqlite_file_in_the_data_root(layout, monkeypatch) -> None:
    monkeypatch.delenv(db.DB_URL_ENV, raising=False)
    assert db.database_url(layout) == f"sqlite:///{layout.root / 'state' / 'railcast.db'}"
    history.append_audit(layout, move("1", "2025-09-05T02:00:00+00:00"))
    assert (layout.root / "state" / "railcast.db").is_file()
