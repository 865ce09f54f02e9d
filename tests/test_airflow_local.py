"""`railcast airflow`: one environment for every Airflow process, a generated password, no orphans on stop."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap

from pipelines import airflow_local
from pipelines.cli import main as cli_main
from pipelines.config import PROJECT_ROOT


def test_environment_points_everything_under_the_data_root(layout):
    env = airflow_local.airflow_env(layout, 18080, base={"PATH": "/usr/bin"})
    home = layout.root / "airflow"
    assert env["AIRFLOW_HOME"] == str(home) and env["RAILCAST_HOME"] == str(layout.root)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(PROJECT_ROOT / "dags")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert (env["AIRFLOW__CORE__EXECUTOR"], env["AIRFLOW__CORE__PARALLELISM"]) == ("LocalExecutor", "4")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert (env["AIRFLOW__API__HOST"], env["AIRFLOW__API__PORT"]) == ("127.0.0.1", "18080")
    assert env["PATH"].split(":")[0] == str(airflow_local.Path(sys.executable).parent)
    smtp = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert smtp["host"] == "127.0.0.1" and smtp["extra"]["disable_tls"] is True
    mine = airflow_local.airflow_env(layout, base={"AIRFLOW_CONN_SMTP_DEFAULT": "smtp://mail:25"})
    assert mine["AIRFLOW_CONN_SMTP_DEFAULT"] == "smtp://mail:25", "a deployment's SMTP connection wins"


def test_admin_password_is_generated_once_and_private(params, layout):
    first = airflow_local.admin_password(layout)
    assert len(first) >= 16 and first != "admin"
    assert airflow_local.admin_password(layout) == first
    path = layout.airflow_home / "passwords.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = airflow_local.Layout(params, layout.root / "elsewhere")
    assert airflow_local.admin_password(other) != first, "each Airflow home gets its own password"


def test_stop_leaves_no_orphans(tmp_path):
    # A parent that ignores SIGINT (like standalone waiting on its children) with two children.
    script = textwrap.dedent("""
        import signal, subprocess, sys, time
        kids = [subprocess.Popen(["sleep", "300"]) for _ in range(2)]
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # after the spawn: children would inherit it
        print("ready", flush=True)
        time.sleep(300)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    assert len(airflow_local.group_members(proc.pid)) == 3
    airflow_local.stop(proc, timeout_s=5)
    assert proc.poll() is not None
    assert airflow_local.group_members(proc.pid) == []


def test_cli_help(capsys):
    try:
        cli_main(["airflow", "--help"])
    except SystemExit as done:
        assert done.code == 0
    assert "--port" in capsys.readouterr().out
