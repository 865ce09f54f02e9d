"""`railcast airflow` (`make airflow`): Airflow standalone on 127.0.0.1 with its state under RAILCAST_HOME.

SQLite + LocalExecutor, parallelism 4 (32 workers would take ~6 GB), examples off, the project's
dags/ folder, Railcast DAGs unpaused, a `registry` pool of one slot, and a generated admin password
kept in `<airflow home>/passwords.json` (mode 0600). Ctrl-C stops the whole process group.
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
from pathlib import Path

from pipelines.config import PROJECT_ROOT, Params
from pipelines.storage import Layout

ADMIN = "admin"
DEFAULT_SMTP = {"conn_type": "smtp", "host": "127.0.0.1", "port": 8025,
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "railcast@localhost"}}


def airflow_bin() -> str:
    """The `airflow` executable of this environment."""
    return str(Path(sys.executable).parent / "airflow")


def airflow_env(layout: Layout, port: int = 8080, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every Airflow process of Railcast runs with (CLI, standalone, tests, demo)."""
    env = dict(os.environ if base is None else base)
    home = layout.airflow_home
    env.update({
        "AIRFLOW_HOME": str(home),
        "RAILCAST_HOME": str(layout.root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p),
        # standalone spawns `airflow scheduler` etc. by name: this environment's bin/ must come first
        "PATH": os.pathsep.join(p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p),
    })
    env.setdefault("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(DEFAULT_SMTP))  # a deployment sets its own
    return env


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


def prepare(env: dict[str, str]) -> None:
    """Migrate the metadata DB, create the one-slot registry pool, unpause Railcast DAGs already known."""
    from pipelines.orchestration import DAG_IDS, REGISTRY_POOL

    run = [airflow_bin()]
    subprocess.run([*run, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*run, "pools", "set", REGISTRY_POOL, "1", "alias moves and DVC writers, one at a time"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    pattern = f"^({'|'.join(DAG_IDS)})$"
    subprocess.run([*run, "dags", "unpause", "--treat-dag-id-as-regex", "-y", pattern], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fails harmlessly on a fresh DB


def start(env: dict[str, str], log_file: Path | None = None) -> subprocess.Popen:
    """Start `airflow standalone` in its own session (process group), output to `log_file` or ours."""
    out = open(log_file, "ab") if log_file else None  # noqa: SIM115 (the child owns it)
    return subprocess.Popen([airflow_bin(), "standalone"], env=env, start_new_session=True,
                            stdout=out, stderr=subprocess.STDOUT if out else None)


def wait_healthy(port: int, proc: subprocess.Popen, timeout_s: float = 180) -> float:
    """Seconds until GET /api/v2/monitor/health answers 200; raises if the process dies or times out."""
    started, url = time.monotonic(), f"http://127.0.0.1:{port}/api/v2/monitor/health"
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"Airflow not healthy on port {port} after {timeout_s:.0f} s")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _wait_until(done, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.5)
    return done()


def stop(proc: subprocess.Popen, timeout_s: float = 30) -> int:
    """Stop standalone and everything it started; returns its exit code.

    SIGINT to the group lets each component shut down cleanly; standalone itself lingers after its
    children exit, so it gets SIGTERM (the whole group gets it if children are still busy, e.g. a
    LocalExecutor waiting for a task); SIGKILL for whatever is left, then wait until the group is empty.
    """
    def signal_group(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def children_gone() -> bool:
        return proc.poll() is not None or set(group_members(proc.pid)) <= {proc.pid}

    signal_group(signal.SIGINT)
    _wait_until(children_gone, timeout_s)
    if proc.poll() is None:
        if children_gone():
            proc.terminate()
        else:
            signal_group(signal.SIGTERM)
        _wait_until(lambda: proc.poll() is not None and not group_members(proc.pid), timeout_s)
    if group_members(proc.pid):
        signal_group(signal.SIGKILL)
        _wait_until(lambda: not group_members(proc.pid), 10)
    return proc.wait()


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
              f"(AIRFLOW_HOME={env['AIRFLOW_HOME']}; Ctrl-C stops it)", flush=True)
        proc.wait()
    except KeyboardInterrupt:
        print("stopping Airflow ...", flush=True)
    finally:
        code = stop(proc)
    return {"airflow_home": env["AIRFLOW_HOME"], "exit_code": code}
