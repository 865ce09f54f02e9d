"""`railcast airflow` (`make airflow`): Airflow standalone on 127.0.0.1 with its state under RAILCAST_HOME.

SQLite + LocalExecutor, parallelism 4 (32 workers would take ~6 GB), examples off, the project's
dags/ folder, Railcast DAGs unpaused, a `registry` pool of one slot, and a generated admin password
kept in `<airflow home>/passwords.json` (mode 0600). Ctrl-C stops every process it started.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from pipelines.config import Params
from pipelines.ops import airflow_db
from pipelines.ops.airflow_settings import ADMIN, embedded_env
from pipelines.ops.process_tree import group_members, stop_tree  # noqa: F401 (group_members: public here)
from pipelines.storage import Layout


def airflow_bin() -> str:
    """The `airflow` executable of this environment."""
    return str(Path(sys.executable).parent / "airflow")


airflow_env = embedded_env  # the embedded profile's environment (built in airflow_settings)


def admin_password(layout: Layout) -> str:
    """The admin password: generated once per Airflow home, stored with mode 0600."""
    path = layout.airflow_home / "passwords.json"
    if path.exists():
        return json.loads(path.read_text())[ADMIN]
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(15)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({ADMIN: password}, handle)
    return password


def prepare(env: dict[str, str], unpause: Iterable[str] | None = None) -> None:
    """Migrate the metadata DB, create the one-slot registry pool, unpause DAGs already known.

    `unpause`: DAG ids to unpause (default every Railcast DAG; `()` none).
    """
    from pipelines.runtime.schedule import DAG_IDS, REGISTRY_POOL

    run = [airflow_bin()]
    airflow_db.use_wal(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    subprocess.run([*run, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*run, "pools", "set", REGISTRY_POOL, "1", "alias moves and DVC writers, one at a time"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    dag_ids = DAG_IDS if unpause is None else tuple(unpause)
    if not dag_ids:
        return
    pattern = f"^({'|'.join(dag_ids)})$"
    subprocess.run([*run, "dags", "unpause", "--treat-dag-id-as-regex", "-y", pattern], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fails harmlessly on a fresh DB


def default_interrupt() -> None:
    """In a child before exec: SIGINT back to its default. A shell starts background jobs (`make test &`,
    nohup, some CI runners) with SIGINT ignored, the child would inherit that and `stop`'s SIGINT would
    do nothing until the SIGTERM deadline."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(env: dict[str, str], log_file: Path | None = None) -> subprocess.Popen:
    """Start the embedded Airflow (`ops.airflow_group`: standalone's components without the log servers)
    in its own session (process group), output to `log_file` or ours."""
    airflow_db.use_wal(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])  # before any Airflow process opens it
    out = open(log_file, "ab") if log_file else None  # noqa: SIM115 (the child owns it)
    leader = [sys.executable, "-m", "pipelines.ops.airflow_group"]
    return subprocess.Popen(leader, env=env, start_new_session=True,
                            preexec_fn=default_interrupt,  # noqa: PLW1509 (one signal call, no locks)
                            stdout=out, stderr=subprocess.STDOUT if out else None)


def wait_healthy(port: int, proc: subprocess.Popen, timeout_s: float = 180) -> float:
    """Seconds until GET /api/v2/monitor/health answers 200; raises if the process dies or times out."""
    started, url = time.monotonic(), f"http://127.0.0.1:{port}/api/v2/monitor/health"
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"Airflow exited with code {proc.returncode} before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"Airflow not healthy on port {port} after {timeout_s:.0f} s")


def stop(proc: subprocess.Popen, timeout_s: float = 30) -> int:
    """Stop standalone and everything it started (tasks included); returns its exit code.

    SIGINT to the group lets each component shut down cleanly; whatever outlives standalone (idle
    LocalExecutor workers ignore SIGINT) or ignores it for `timeout_s` gets SIGTERM, then SIGKILL.
    Returns within about `timeout_s` + 30 s, never later.
    """
    return stop_tree(proc, timeout_s=timeout_s)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast airflow`."""
    parser.add_argument("--port", type=int, default=8080, help="API/UI port on 127.0.0.1 (default 8080)")


def main(args: argparse.Namespace, params: Params) -> dict:
    """Run Airflow standalone in the foreground until Ctrl-C."""
    layout = Layout(params, args.home)
    env = airflow_env(layout, args.port)
    password = admin_password(layout)
    prepare(env)
    proc = start(env)
    try:
        wait_healthy(args.port, proc)
        print(f"\nAirflow UI: http://127.0.0.1:{args.port}  user: {ADMIN}  password: {password}\n"
              f"(password kept in {layout.airflow_home / 'passwords.json'}; "
              f"AIRFLOW_HOME={env['AIRFLOW_HOME']}; Ctrl-C stops it)", flush=True)
        proc.wait()
    except KeyboardInterrupt:
        print("stopping Airflow ...", flush=True)
    finally:
        code = stop(proc)
    return {"airflow_home": env["AIRFLOW_HOME"], "exit_code": code}
