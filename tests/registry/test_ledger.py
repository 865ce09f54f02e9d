"""Alias moves that cannot split: kill -9 inside a promotion, repair after a failed move, and racing
promotions from two processes with separate data roots, on the SQLite file and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest

from pipelines.modeling import score, train
from pipelines.registry import history, ledger, promote, tracking
from pipelines.state import db
from pipelines.state.tables import alias_moves
from pipelines.storage import Layout
from tests.services import state_database
from tests.small_training import day, small_training, synthetic_store

pytestmark = pytest.mark.integration

SMALL = small_training(4, 3, 30)
EARLY = dt.datetime(2025, 8, 1, tzinfo=dt.UTC)  # before every day's close: each day has the champion


@pytest.fixture(scope="module", params=["embedded-mlflow", "mlflow-server"])
def store(request, tmp_path_factory):
    """Two registered versions, in an MLflow store the processes open directly or on an MLflow server
    (PostgreSQL + S3), and the days' features to score."""
    with synthetic_store(tmp_path_factory, "ledger", SMALL, 4, 400) as (params, layout, as_of), \
            pytest.MonkeyPatch.context() as mp:
        if request.param == "mlflow-server":
            server = request.getfixturevalue("tracking_server")
            mp.setenv("MLFLOW_TRACKING_URI", server.url)
        for kind in ("bootstrap", "manual"):
            train.run(params, layout, as_of, {"kind": kind, "reason": "ledger test"})
        yield params, layout


@pytest.fixture(scope="module")
def tracking_server(s3_store, tmp_path_factory):
    """An MLflow server of this module: its own PostgreSQL database and bucket."""
    from pipelines.ops.mlflow_server import MlflowServer
    from tests.services import new_bucket, postgres_database
    from tests.smtp_server import free_port

    databases = postgres_database()
    with MlflowServer(next(databases), f"s3://{new_bucket(s3_store)}/mlflow", s3_store,
                      tmp_path_factory.mktemp("ledger-server"), port=free_port()) as server:
        yield server
    next(databases, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request, store, monkeypatch):
    """The store with no aliases and an empty history, on a fresh state database of each backend."""
    params, layout = store
    for url in state_database(request.param, db.database_url(layout), monkeypatch):
        with db.engine_for(layout).begin() as conn:
            conn.execute(alias_moves.delete())
        for alias in ledger.MANAGED:
            tracking.set_alias(layout, alias, None)
        yield url


def decision(version: str, champion: str | None) -> dict:
    return {"version": version, "champion_version": champion, "passed": True, "reason": "test",
            "as_of": EARLY.isoformat(), "dry_run": False}


def child_env(layout: Layout) -> dict:
    """A child process sees the same state database and MLflow store, nothing else of ours."""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "MLFLOW_TRACKING_URI": tracking.tracking_uri(layout),
           db.DB_URL_ENV: db.database_url(layout)}
    env.pop("RAILCAST_HOME", None)
    return env


DIE_AFTER_THE_ALIAS_MOVE = textwrap.dedent("""
    import json, os, signal, sys
    from pipelines.config import load_params
    from pipelines.registry import promote, tracking
    from pipelines.storage import Layout

    set_alias = tracking.set_alias
    def set_then_die(layout, alias, version):
        set_alias(layout, alias, version)
        if alias == tracking.CHAMPION:  # MLflow moved, the state transaction not yet committed
            os.kill(os.getpid(), signal.SIGKILL)
    tracking.set_alias = set_then_die
    params = load_params()
    promote.run(params, Layout(params, sys.argv[1]), json.loads(sys.argv[2]))
""")


def test_kill_9_between_alias_move_and_commit_is_reconciled(registry, store, caplog):
    params, layout = store
    assert promote.run(params, layout, decision("1", None))["moved"]
    killed = subprocess.run([sys.executable, "-c", DIE_AFTER_THE_ALIAS_MOVE, str(layout.root),
                             json.dumps(decision("2", "1"))], env=child_env(layout), timeout=300,
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert tracking.get_alias(layout, tracking.CHAMPION) == "2"  # torn: MLflow ahead of the history
    assert history.champion_at(layout) == "1"

    with caplog.at_level(logging.WARNING, logger=ledger.__name__):
        scored = score.run(params, layout, day(4))  # a later start trusts the history: repaired first
    assert scored["model_version"] == "1"
    assert tracking.get_alias(layout, tracking.CHAMPION) == "1"
    assert "reconciled alias champion: MLflow said 2, the committed history says 1" in caplog.text
    repairs = [e for e in history.read_audit(layout) if e["action"] == "reconcile"]
    assert [(e["alias"], e["from"], e["to"]) for e in repairs] == [("champion", "2", "1"),
                                                                   ("previous", "1", None)]

    retried = promote.run(params, layout, decision("2", "1"))  # the killed task's retry completes
    assert retried["moved"] and tracking.get_alias(layout, tracking.CHAMPION) == "2"
    assert history.champion_at(layout) == "2" and ledger.reconcile(layout) == []


def test_a_failed_move_is_undone_before_the_error_is_raised(registry, store, monkeypatch):
    params, layout = store
    promote.run(params, layout, decision("1", None))

    def tags_fail(*args, **kwargs):
        raise ConnectionError("MLflow went away")

    monkeypatch.setattr(tracking, "set_version_tags", tags_fail)  # after set_alias, before the commit
    with pytest.raises(ConnectionError, match="went away"):
        promote.run(params, layout, decision("2", "1"))
    assert tracking.get_alias(layout, tracking.CHAMPION) == "1"
    assert tracking.get_alias(layout, tracking.PREVIOUS) is None
    assert history.champion_at(layout) == "1"


PROMOTE_ON_GO = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from pipelines.config import load_params
    from pipelines.registry import promote
    from pipelines.storage import Layout
    params = load_params()
    layout = Layout(params, sys.argv[1])
    Path(sys.argv[1]).mkdir(parents=True)  # "ready": imported, about to wait
    while not Path(sys.argv[3]).exists():
        time.sleep(0.01)
    print(json.dumps(promote.run(params, layout, json.loads(sys.argv[2]), actor=sys.argv[1])))
""")


def test_racing_promotions_on_two_hosts_have_one_winner(registry, store, tmp_path):
    """Separate data roots ("hosts"), shared only the state database and the MLflow store."""
    params, layout = store
    go = tmp_path / "go"
    hosts = {version: tmp_path / f"host-{version}" for version in ("1", "2")}
    racers = {version: subprocess.Popen([sys.executable, "-c", PROMOTE_ON_GO, str(root),
                                         json.dumps(decision(version, None)), str(go)],
                                        env=child_env(layout), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
              for version, root in hosts.items()}
    deadline = time.monotonic() + 120
    while not all(root.exists() for root in hosts.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    outputs = {v: p.communicate(timeout=300) for v, p in racers.items()}
    assert all(p.returncode == 0 for p in racers.values()), outputs
    results = {v: json.loads(out.strip().splitlines()[-1]) for v, (out, _) in outputs.items()}
    winners = [v for v, r in results.items() if r["moved"]]
    assert len(winners) == 1, results
    loser = next(v for v in results if v not in winners)
    assert "stale decision" in results[loser]["reason"]
    assert tracking.get_alias(layout, tracking.CHAMPION) == winners[0] == history.champion_at(layout)
    entries = history.read_audit(layout)
    assert [(e["action"], e["to"], e["who"]) for e in entries] == [
        ("move", winners[0], str(hosts[winners[0]])), ("refused", loser, str(hosts[loser]))]
    assert [p.name for root in hosts.values() for p in root.iterdir()] == []  # nothing local to a host
