"""`railcast airflow`: one environment for every Airflow process, a generated password, no orphans on stop."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from airflow_helpers import free_port

from pipelines.cli import main as cli_main
from pipelines.config import PROJECT_ROOT
from pipelines.ops import airflow_db, airflow_local, process_tree

pytestmark = pytest.mark.integration


def test_environment_points_everything_under_the_data_root(layout):
    env = airflow_local.airflow_env(layout, 18080, base={"PATH": "/usr/bin"})
    home = layout.root / "airflow"
    assert env["AIRFLOW_HOME"] == str(home) and env["RAILCAST_HOME"] == str(layout.root)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_ROOT / "dags")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert (env["AIRFLOW__CORE__EXECUTOR"], env["AIRFLOW__CORE__PARALLELISM"]) == ("LocalExecutor", "4")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Europe/Berlin", "CLI dates mean Berlin days"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert (env["AIRFLOW__API__HOST"], env["AIRFLOW__API__PORT"]) == ("127.0.0.1", "18080")
    assert env["PATH"].split(":")[0] == str(airflow_local.Path(sys.executable).parent)
    smtp = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert smtp["host"] == "127.0.0.1" and smtp["extra"]["disable_tls"] is True
    tests = airflow_local.airflow_env(layout, base={}, paused_at_creation=True)
    assert tests["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True", "tests unpause what they need"
    mine = airflow_local.airflow_env(layout, base={"AIRFLOW_CONN_SMTP_DEFAULT": "smtp://mail:25"})
    assert mine["AIRFLOW_CONN_SMTP_DEFAULT"] == "smtp://mail:25", "a deployment's SMTP connection wins"


def test_airflow_waits_for_a_locked_metadata_db_instead_of_failing(layout):
    """The CLI, scheduler and API server share one SQLite file: a write that meets another process's
    lock waits for it (sqlite's default gives up after 5 s: "database is locked" mid-backfill)."""
    env = airflow_local.airflow_env(layout, base={"PATH": "/usr/bin"})
    db = Path(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another Airflow process in the middle of a long write
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        from airflow import settings
        settings.configure_orm()
        print("imported", flush=True)
        with settings.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE written_after_the_lock (x INTEGER)")
        print("written", flush=True)
    """)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "imported"
        time.sleep(7)  # longer than sqlite's default busy timeout
        assert writer.poll() is None, f"the writer gave up while the lock was held:\n{writer.stderr.read()}"
    finally:
        holder.execute("COMMIT")
        holder.close()
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0 and out.strip() == "written", err


def test_metadata_db_in_wal_mode_lets_a_writer_commit_beside_an_open_reader(tmp_path):
    """In the default journal a reader in a transaction stops a writer's commit ("database is locked"
    at once when SQLite suspects a deadlock); in WAL mode, which start() and prepare() set, it does not."""
    url = f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}"
    airflow_db.use_wal(url)
    path = url.removeprefix("sqlite:///")
    reader, writer = (sqlite3.connect(path, timeout=0.2, isolation_level=None) for _ in range(2))
    try:
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "the file keeps the mode"
        writer.execute("CREATE TABLE runs (x INTEGER)")
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM runs").fetchall()  # a read transaction stays open
        writer.execute("INSERT INTO runs VALUES (1)")            # commits: would raise in the default journal
        assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 0, "the reader's snapshot"
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    finally:
        reader.close()
        writer.close()
    airflow_db.use_wal("postgresql://somewhere/airflow")  # not SQLite: nothing to do, no error


def test_admin_password_is_generated_once_and_private(params, layout):
    first = airflow_local.admin_password(layout)
    assert len(first) >= 16 and first != "admin"
    assert airflow_local.admin_password(layout) == first
    path = layout.airflow_home / "passwords.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = airflow_local.Layout(params, layout.root / "elsewhere")
    assert airflow_local.admin_password(other) != first, "each Airflow home gets its own password"


def spawn(script: str) -> subprocess.Popen:
    """A leader in its own session (like `start`, SIGINT at its default even when the suite runs as a
    background job) that prints `ready` once its children run."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], start_new_session=True,
                            preexec_fn=airflow_local.default_interrupt, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def session_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])


def test_stop_leaves_no_orphans_when_the_leader_ignores_sigint():
    # standalone waiting on its children: the leader ignores SIGINT, two children in the group
    proc = spawn("""
        import signal, subprocess, sys, time
        kids = [subprocess.Popen(["sleep", "300"]) for _ in range(2)]
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # after the spawn: children would inherit it
        print("ready", flush=True)
        time.sleep(300)
    """)
    assert len(airflow_local.group_members(proc.pid)) == 3
    t0 = time.monotonic()
    airflow_local.stop(proc, timeout_s=3)
    assert time.monotonic() - t0 < 3 + 10, "SIGTERM must end it within the grace period"
    assert proc.poll() is not None
    assert airflow_local.group_members(proc.pid) == []


def test_stop_kills_orphaned_workers_and_tasks_in_their_own_session():
    # What hung before: the leader exits on SIGINT, a LocalExecutor-like worker ignoring SIGINT stays
    # in the group under PID 1, and a task runs in a session of its own (outside the group).
    proc = spawn("""
        import subprocess, sys, time
        worker = [sys.executable, "-c",
                  "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(300)"]
        kids = [subprocess.Popen(worker), subprocess.Popen(["sleep", "301"], start_new_session=True)]
        time.sleep(0.5)  # the worker has installed its SIG_IGN
        print("ready", flush=True)
        time.sleep(300)
    """)
    family = sorted(pid for pid, start in process_tree.family(proc.pid, set()))
    assert len(family) == 3
    task = [pid for pid in family if session_of(pid) == pid and pid != proc.pid]
    assert len(task) == 1 and task[0] not in airflow_local.group_members(proc.pid)
    t0 = time.monotonic()
    airflow_local.stop(proc, timeout_s=20)
    assert time.monotonic() - t0 < 20, "the leader's exit ends the clean phase: no waiting for orphans"
    assert proc.poll() is not None
    assert airflow_local.group_members(proc.pid) == []
    alive = process_tree.process_table()
    assert not [pid for pid in family if pid in alive and alive[pid][2] != "Z"], "an orphan survived"


@pytest.mark.parametrize("failure", [ValueError("a readiness check that crashes"), KeyboardInterrupt()])
def test_a_service_whose_start_fails_leaves_nothing_running(tmp_path, failure):
    """`stack up` starts services in threads: one whose readiness check raises (a library that failed to
    import, Ctrl-C) must stop what it spawned, or it runs on unrecorded."""

    class Sleeper(process_tree.Service):
        name = "sleeper"

        def start(self):
            # SIGINT back to default: a test run started in the background inherits it ignored
            code = "import signal, subprocess; signal.signal(signal.SIGINT, signal.default_int_handler); " \
                   "subprocess.run(['sleep', '300'], preexec_fn=lambda: signal.signal(2, signal.SIG_DFL))"
            self.spawn([sys.executable, "-c", code], {}, tmp_path / "sleeper.log")
            time.sleep(0.5)
            self.seen = process_tree.family(self.proc.pid, set())

            def ready():
                raise failure
            self.wait_ready(ready, timeout_s=30)
            return self

    service = Sleeper()
    with pytest.raises(type(failure)):
        service.start()
    assert service.proc is None and len(service.seen) == 2, "python and its `sleep`"
    assert [pid for pid, start in service.seen if process_tree.Detached(pid, start).alive()] == []


def test_cli_help(capsys):
    try:
        cli_main(["airflow", "--help"])
    except SystemExit as done:
        assert done.code == 0
    assert "--port" in capsys.readouterr().out


def test_sigterm_stops_railcast_airflow_and_all_it_started_which_listens_on_loopback_only(tmp_path):
    """`timeout`, `docker stop` and systemd stop with SIGTERM: before, `railcast airflow` died at once and
    left Airflow running in its own session. Airflow's log servers (8793, 8794) listened on every
    interface; the embedded launcher runs without them, so every listener is on 127.0.0.1."""
    port = free_port()
    log = tmp_path / "airflow.out"
    with log.open("w") as out:   # a file, not a pipe: a pipe nobody reads blocks Airflow's logging at stop
        proc = subprocess.Popen([sys.executable, "-m", "pipelines", "airflow", "--port", str(port),
                                 "--home", str(tmp_path / "home")], cwd=PROJECT_ROOT, start_new_session=True,
                                preexec_fn=airflow_local.default_interrupt, stdout=out,
                                stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while "Airflow UI: http://127.0.0.1" not in log.read_text():   # printed once the API server answers
            assert proc.poll() is None, f"railcast airflow ended before Airflow answered:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"Airflow did not answer in 300 s:\n{log.read_text()}"
            time.sleep(0.5)
        time.sleep(5)               # the scheduler and triggerer are up by now: their servers would be
        family = process_tree.family(proc.pid, set())
        listening = {(c.laddr.ip, c.laddr.port) for pid, _ in family
                     for c in _connections(pid) if c.status == psutil.CONN_LISTEN}
        assert ("127.0.0.1", port) in listening
        assert {ip for ip, _ in listening} == {"127.0.0.1"}, listening
        os.killpg(proc.pid, signal.SIGTERM)   # the whole foreground group, as `timeout` does
        assert proc.wait(timeout=150) == 0, "stopped as by Ctrl-C: a clean stop"
        assert "stopping Airflow" in log.read_text()
        assert [ident for ident in family if process_tree.Detached(*ident).alive()] == [], "left running"
    finally:
        if proc.poll() is None:
            process_tree.stop_tree(proc, timeout_s=10)


def _connections(pid: int) -> list:
    try:
        return psutil.Process(pid).net_connections("inet")
    except psutil.Error:   # ended meanwhile
        return []
