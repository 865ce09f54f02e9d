"""MLflow as a tracking server (PostgreSQL backend, artifacts in the S3 store behind the server): the
registry works through it with no S3 keys on the client, and an outage in the middle of `train` ends in
a retry that leaves exactly one version for the request."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import mlflow
import psutil
import pytest
import sqlalchemy as sa
from pyarrow import fs

from pipelines.config import PROJECT_ROOT
from pipelines.modeling import evaluate, train
from pipelines.ops import process_tree
from pipelines.ops.mlflow_server import MlflowServer
from pipelines.ops.object_store import S3Access
from pipelines.registry import integrity, promote, requests, tracking
from tests.services import new_bucket, postgres_database
from tests.small_training import small_training, synthetic_store
from tests.smtp_server import free_port

pytestmark = pytest.mark.integration

SMALL = small_training(4, 3, 40, **{"gate.bootstrap_samples": 200})


@pytest.fixture(scope="module")
def server(s3_store: S3Access, tmp_path_factory):
    """A tracking server of this module: its own PostgreSQL database and bucket."""
    databases = postgres_database()
    backend = next(databases)
    bucket = new_bucket(s3_store)
    with MlflowServer(backend, f"s3://{bucket}/mlflow", s3_store, tmp_path_factory.mktemp("mlflow-server"),
                      port=free_port()) as running:
        running.bucket = bucket
        yield running
    next(databases, None)


@pytest.fixture()
def store(server, tmp_path_factory, monkeypatch):
    """A fresh data root whose MLflow is the server; S3 keys are nowhere in this process."""
    with synthetic_store(tmp_path_factory, "served", SMALL, 5, 800) as (params, layout, as_of):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")  # an outage fails fast here
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL"):
            monkeypatch.delenv(name, raising=False)
        yield params, layout, as_of


def versions_of(layout, key: str) -> list[str]:
    found = tracking.client(layout).search_model_versions(
        f"name='{tracking.MODEL_NAME}' and tags.{requests.REQUEST_TAG} = '{key}'")
    return sorted(mv.version for mv in found)


def test_train_evaluate_promote_through_the_server(server, s3_store, store):
    params, layout, as_of = store
    trained = train.run(params, layout, as_of, {"kind": "bootstrap"})
    decision = evaluate.run(params, layout, trained["version"], as_of)
    assert promote.run(params, layout, decision)["moved"]
    assert tracking.get_alias(layout, tracking.CHAMPION) == trained["version"]
    assert integrity.load_version(layout, trained["version"]).predict is not None
    objects = s3_store.filesystem().get_file_info(fs.FileSelector(f"{server.bucket}/mlflow", recursive=True))
    assert any(o.path.endswith(tracking.MODEL_ARTIFACT) for o in objects), "artifacts live in the S3 store"
    assert not (layout.root / "mlflow").exists(), "nothing of MLflow under the local data root"
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ


def test_an_outage_before_registration_is_retried_into_one_version(server, store, monkeypatch):
    params, layout, as_of = store
    trigger = {"kind": "manual", "reason": "outage before registration"}
    register = mlflow.register_model

    def server_dies_first(*args, **kwargs):
        server.stop()
        return register(*args, **kwargs)

    monkeypatch.setattr(mlflow, "register_model", server_dies_first)
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises for a dead server
        train.run(params, layout, as_of, trigger)
    monkeypatch.setattr(mlflow, "register_model", register)
    server.start()
    retried = train.run(params, layout, as_of, trigger)  # the task's retry
    key = tracking.version_info(layout, retried["version"])["tags"][requests.REQUEST_TAG]
    assert versions_of(layout, key) == [retried["version"]]
    runs = tracking.client(layout).search_runs([tracking.connect(layout)],
                                               filter_string=f"tags.{requests.REQUEST_TAG} = '{key}'")
    assert sorted(r.info.status for r in runs) == ["FAILED", "FINISHED"], "the first try's run is closed"


def test_an_outage_after_registration_returns_the_registered_version(server, store, monkeypatch):
    params, layout, as_of = store
    trigger = {"kind": "manual", "reason": "outage after registration"}
    log_training = tracking.log_training

    def server_dies_after(*args, **kwargs):
        logged = log_training(*args, **kwargs)
        server.stop()
        return logged

    monkeypatch.setattr(tracking, "log_training", server_dies_after)
    with pytest.raises(Exception):  # noqa: B017
        train.run(params, layout, as_of, trigger)
    monkeypatch.setattr(tracking, "log_training", log_training)
    server.start()
    retried = train.run(params, layout, as_of, trigger)
    key = tracking.version_info(layout, retried["version"])["tags"][requests.REQUEST_TAG]
    assert versions_of(layout, key) == [retried["version"]], "the retry registered nothing new"


def test_mlflow_ui_keeps_the_store_password_out_of_argv_and_output(tmp_path):
    """`railcast mlflow-ui` put the tracking URI in the server's argv (every user's `ps` shows it) and
    printed it: a database password in the URI leaked both ways."""
    databases = postgres_database()
    secret = "s3cret-pw-4c1f"   # trust authentication: accepted and ignored by this server
    url = sa.make_url(next(databases)).set(password=secret).render_as_string(hide_password=False)
    port, out = free_port(), tmp_path / "ui.log"
    with open(out, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines", "mlflow-ui", "--port", str(port),
                                 "--home", str(tmp_path / "home")], cwd=PROJECT_ROOT, start_new_session=True,
                                env={**os.environ, "MLFLOW_TRACKING_URI": url}, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not _answers(f"http://127.0.0.1:{port}/health"):
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(1)
        argv = [" ".join(psutil.Process(pid).cmdline()) for pid, _ in process_tree.family(proc.pid, set())
                if psutil.pid_exists(pid)]
        assert any("mlflow" in a and "server" in a for a in argv)
        assert [a for a in argv if secret in a] == []
        printed = out.read_text()
        assert secret not in printed and ":***@127.0.0.1" in printed
    finally:
        process_tree.stop_tree(proc, timeout_s=15)
        next(databases, None)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False
