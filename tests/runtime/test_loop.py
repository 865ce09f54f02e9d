"""The closed loop in-process on a small network: bootstrap, per-day records, maturity, determinism.

The simulator's network is cut to two corridors (benchmarks/small_network.py: the truth engine and the
bulk path stay real); every other stage, MLflow and the registry are real.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from pipelines.config import load_params, loader
from pipelines.datasets import close_time
from pipelines.monitoring import skill
from pipelines.registry import tracking
from pipelines.runtime import loop, loop_steps
from pipelines.runtime.context import Context
from pipelines.storage import Layout
from tests.airflow_helpers import slow
from tests.services import new_bucket, postgres_database, state_database
from tests.small_training import small_training
from tests.smtp_server import free_port

pytestmark = pytest.mark.integration

SMALL = small_training(2, 2, 60, **{"gate.bootstrap_samples": 100})
DAYS = 4


@pytest.fixture(scope="module")
def small_network():
    """The simulator cut to two corridors (benchmarks/small_network.py), MLflow embedded."""
    from benchmarks.small_network import small_network as cut

    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    with cut():
        yield
    mp.undo()


PARSES: list[str] = []  # params files read while the loop ran


@pytest.fixture(scope="module")
def looped(small_network, tmp_path_factory):
    params = load_params(overrides=SMALL)   # the caller's one parse (the CLI's, in `railcast loop`)
    layout = Layout(params, tmp_path_factory.mktemp("loop") / "home")
    lines: list[str] = []
    mp, read = pytest.MonkeyPatch(), loader.read_params_file
    mp.setattr(loader, "read_params_file", lambda source: PARSES.append(str(source)) or read(source))
    env = {k: os.environ.get(k) for k in ("RAILCAST_PARAMS", "RAILCAST_HOME")}
    try:
        summary = loop.run_loop(params, layout, DAYS, scenario="stationary", seed=3, progress=lines.append)
    finally:
        mp.undo()
    assert {k: os.environ.get(k) for k in env} == env, "the loop hands nothing to itself through the env"
    return params, layout, summary, lines


def test_the_loop_never_reparses_params(looped) -> None:
    """The loop passes its own Params down: params.yaml is parsed once per loop run, by its caller."""
    assert PARSES == []


def test_intervals_follow_the_dag_schedules() -> None:
    params = load_params()
    ticks = list(loop_steps.ticks(params, dt.date(2025, 9, 1), 2))
    assert len(ticks) == 3
    midnight = dt.datetime(2025, 8, 31, 22, tzinfo=dt.UTC)                         # 00:00 Berlin (CEST)
    assert ticks[0].ingest == (midnight, midnight + dt.timedelta(days=1))
    assert ticks[0].monitor[1] == dt.datetime(2025, 9, 2, 2, tzinfo=dt.UTC)       # 04:00 Berlin (CEST)
    assert ticks[1].ingest[1] == ticks[2].ingest[0]
    assert ticks[2].ingest[1] == close_time(params, dt.date(2025, 9, 2)) + dt.timedelta(hours=1)


def test_monitor_bootstraps_then_the_champion_scores(looped) -> None:
    params, layout, summary, lines = looped
    records = {r["day"]: r for r in summary["days_records"]}
    calendar = [(dt.date(2025, 9, 1) + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    assert list(records) == calendar           # the tail tick monitored the last day; no day before day 1
    for day in calendar[:2]:
        assert records[day]["drift_verdict"] == "no_champion" and records[day]["retrain"] is None
    boot = records["2025-09-03"]                # window 09-01..02, holdout 09-03: the monitor bootstraps
    assert boot["drift_verdict"] == "retrain" and boot["verdict_kind"] == "bootstrap"
    assert boot["retrain_triggered"]
    assert boot["retrain"]["version"] == "1" and boot["retrain"]["promoted"]
    assert boot["retrain"]["as_of"] == loop_steps.day_tick(dt.date(2025, 9, 4)).monitor[1].isoformat()
    assert [records[d]["champion_version"] for d in calendar] == [None, None, None, "1"]
    assert records["2025-09-04"]["first_version"] == "1"
    assert [p["to"] for p in summary["promotions"]] == ["1"]
    assert tracking.get_alias(layout, tracking.CHAMPION) == "1"
    assert len(lines) == DAYS and lines[-1].startswith("day  4 2025-09-04: verdict ")


def test_scores_none_before_maturity_then_numbers(looped) -> None:
    params, layout, summary, _ = looped
    records = {r["day"]: r for r in summary["days_records"]}
    last = dt.date(2025, 9, 1) + dt.timedelta(days=DAYS - 1)
    scores = records[last.isoformat()]["daily_scores"]
    assert scores["matured"] and scores["n_labeled"] > 50 and scores["mae_persistence"] > 0
    assert scores["mae_champion"] is not None and scores["skill_champion"] is not None
    assert scores["mae_without_retraining"] == scores["mae_champion"]       # first champion = champion
    before = skill.daily_scores(params, layout, last, close_time(params, last) - dt.timedelta(hours=1))
    assert all(before[k] is None for k in skill.SCORE_KEYS)
    early = records["2025-09-01"]["daily_scores"]
    assert early["matured"] and early["n_labeled"] > 50 and early["mae_champion"] is None  # no champion yet


def test_summary_file_is_the_returned_summary(looped) -> None:
    _, layout, summary, _ = looped
    path = loop.summary_path(layout, "stationary", 3)
    assert summary["summary_file"] == str(path)
    written = json.loads(path.read_text())
    assert written == {k: v for k, v in summary.items() if k != "summary_file"}
    assert str(layout.root) not in json.dumps(written)       # no run-specific paths: replays compare equal


def test_replaying_the_last_tick_gives_the_same_record_and_bytes(looped) -> None:
    params, layout, summary, _ = looped
    last = dt.date(2025, 9, 1) + dt.timedelta(days=DAYS - 1)
    files = [layout.day_file(name, last) for name in ("features", "labels", "predictions")]
    files.append(layout.dataset("reports") / "drift" / last.isoformat() / "decision.json")
    before = [f.read_bytes() for f in files]
    run_params = loop.loop_params(params, "stationary", 3, DAYS)
    tail = list(loop_steps.ticks(run_params, dt.date(2025, 9, 1), DAYS))[-1]
    again = loop.run_tick(Context(run_params, layout), tail, "stationary", loop_steps.monitor_verdicts,
                          "test")
    record = {r["day"]: r for r in summary["days_records"]}[last.isoformat()]
    assert again[last.isoformat()] == record
    assert [f.read_bytes() for f in files] == before


@pytest.fixture()
def production(s3_store, tmp_path, monkeypatch):
    """Every shared piece on its real engine: the state database on PostgreSQL, an MLflow server
    (PostgreSQL + artifacts in the S3 store), the datasets and the DVC remote of the training inputs in
    the S3 store; yields (state database URL, the db module, the bucket)."""
    from pipelines.ops.mlflow_server import MlflowServer
    from pipelines.registry import inputs
    from pipelines.state import db

    mlflow_databases = postgres_database()
    bucket = new_bucket(s3_store)
    with MlflowServer(next(mlflow_databases), f"s3://{bucket}/mlflow", s3_store, tmp_path / "mlflow-server",
                      port=free_port()) as server:
        for url in state_database("postgresql", "", monkeypatch):
            monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
            monkeypatch.setenv(inputs.REMOTE_ENV, f"s3://{bucket}/dvc")
            for name, value in s3_store.client_env().items():  # for `dvc push` (MLflow needs none)
                monkeypatch.setenv(name, value)
            yield url, db, bucket
    next(mlflow_databases, None)


@slow
def test_the_production_shape_runs_the_same_loop(looped, production, tmp_path, monkeypatch) -> None:
    from pipelines.runtime import outbox

    params, embedded_layout, embedded, _ = looped
    _, db, bucket = production
    with monkeypatch.context() as local:  # the embedded run's outbox is its own SQLite file
        local.delenv(db.DB_URL_ENV)
        embedded_mail = sorted(m["subject"] for m in outbox.messages(embedded_layout))
    run_params = load_params(overrides={**SMALL, "lineage.version_inputs": True})
    layout = Layout(run_params, tmp_path / "home", data=f"s3://{bucket}/data")
    summary = loop.run_loop(run_params, layout, DAYS, scenario="stationary", seed=3, progress=lambda _: None)
    same = ("summary_file",)
    assert {k: v for k, v in summary.items() if k not in same} == {
        k: v for k, v in embedded.items() if k not in same}, "same verdicts, retrains and promotions"
    assert sorted(m["subject"] for m in outbox.messages(layout)) == embedded_mail, "same emails"
    assert tracking.version_info(layout, "1")["tags"]["inputs_remote"].startswith("s3://")
    local = sorted(p.relative_to(layout.root).as_posix() for p in layout.root.rglob("*") if p.is_file())
    assert [p for p in local if not p.startswith("lineage/")] == [], "only DVC's local cache stays local"
    assert layout.day_file("features", dt.date(2025, 9, 3)).exists()  # in the store
