"""Shared by the Airflow tests: a small params.yaml, an SMTP server on loopback, Airflow's env for them."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller

from pipelines.config import PROJECT_ROOT, Params, load_params
from pipelines.ops import airflow_local
from pipelines.storage import Layout
from pipelines.timeutil import local_midnight_utc
from tests.smtp_server import Server

# Minutes each on a 2-core machine (Airflow, GX, MLflow and LightGBM imports in fresh processes). They run
# in `make test` (CI); `make test-quick` deselects them (-m "not slow") for a local edit loop.
slow = pytest.mark.slow
SMALL = {"train": {"window_days": 4, "min_days": 3, "holdout_days": 1, "num_boost_round": 60,
                   "early_stopping_rounds": 10},
         "gate": {"bootstrap_samples": 200},
         "simulation": {"poll_interval_min": 15}}  # 5x fewer snapshot rows than the 3-minute default


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def small_params(root: Path, **sections: dict) -> tuple[Path, Params, Layout]:
    """The project's params.yaml shrunk for tests (re-read now: other sections keep moving)."""
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    for section, values in SMALL.items():
        raw[section].update(values)
    for section, values in sections.items():
        raw[section].update(values)
    raw["train"]["lgb_params"]["num_threads"] = 1
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    params = load_params(path)
    return path, params, Layout(params, root / "home")


class Mailbox:
    """An SMTP server on a free loopback port that records every message it accepts."""

    def __init__(self) -> None:
        self.port, self.recorder = free_port(), Server()
        self.server = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list:
        return [message for _, message in self.recorder.deliveries]

    def connection(self) -> str:
        """AIRFLOW_CONN_SMTP_DEFAULT pointing at this server."""
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 5}})


def airflow_test_env(layout: Layout, params_file: Path, mailbox: Mailbox, port: int = 8080,
                     metadata_url: str | None = None) -> dict[str, str]:
    """Airflow's environment for a test: its params file, its data root, its mailbox, DAGs paused."""
    env = airflow_local.airflow_env(layout, port, paused_at_creation=True, metadata_url=metadata_url)
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(RAILCAST_PARAMS=str(params_file), AIRFLOW_CONN_SMTP_DEFAULT=mailbox.connection())
    return env


DRIVER = r"""
import datetime as dt, json, sys
from airflow.dag_processing.dagbag import DagBag

bag, out = DagBag(dag_folder=sys.argv[1]), []
assert not bag.import_errors, bag.import_errors
for step in json.loads(sys.argv[2]):
    when, dag = step.get("logical_date"), bag.dags[step["dag_id"]]
    for task in dag.tasks if "retries" in step else ():   # dag.test() waits out each retry's backoff
        task.retries = step["retries"]
    run = dag.test(run_conf=step.get("conf"),
                                        logical_date=dt.datetime.fromisoformat(when) if when else None)
    out.append({"dag_id": step["dag_id"], "state": str(run.state),
                "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
                "seconds": {ti.task_id: round(ti.duration or 0, 1) for ti in run.get_task_instances()}})
print("RESULT " + json.dumps(out))
"""


def migrated(env: dict[str, str], cache: Path) -> None:
    """Give AIRFLOW_HOME a migrated metadata DB, copied from `cache` (migrated once per session)."""
    template = cache / "airflow.db"
    if not template.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([airflow_local.airflow_bin(), "db", "migrate"], check=True, capture_output=True,
                       env={**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{template}"})
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, home / "airflow.db")


def dag_tests(env: dict[str, str], steps: list[dict], timeout_s: float = 600) -> list[dict]:
    """Run `dag.test()` for each step ({dag_id, logical_date?, conf?, retries?}) in one fresh interpreter.

    A subprocess: Airflow reads AIRFLOW_HOME once per process, and other tests import it too.
    """
    argv = [sys.executable, "-c", DRIVER, env["AIRFLOW__CORE__DAGS_FOLDER"], json.dumps(steps)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=timeout_s)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    runs = json.loads(lines[-1][len("RESULT "):])
    for run in runs:  # shown with -s or on failure: where the time went
        print(run["dag_id"], run["state"], run["seconds"])
    return runs


def daily_logical_date(day: dt.date) -> str:
    """The `dag.test()` logical date whose data interval is Berlin day `day`: it runs the interval
    ending at the last tick, so that is the midnight after `day`."""
    return local_midnight_utc(day + dt.timedelta(days=1)).isoformat()
