"""The real thing: `airflow standalone` (scheduler, LocalExecutor, API; metadata on PostgreSQL) runs the
retrain DAG three times, twice triggered manually with a reason and answered at its approval step (one
Reject, one Approve), once by a drift asset event (no logical date), emails every decision through the
outbox to an SMTP server on loopback, and stops with no process left behind.

Then `airflow backfill create` over two days of `ingest`, twice. DAGs start paused and only what a
test needs is unpaused: the daily DAGs would run today's interval, find no data and email failures.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from benchmarks.bench_train import write_days
from pipelines.demo.on_airflow import claim_wall_clock
from pipelines.ops import airflow_local
from pipelines.ops.airflow_api import AirflowApi
from pipelines.ops.process_tree import family, process_table
from pipelines.registry import history, tracking
from pipelines.runtime import schedule
from pipelines.timeutil import BERLIN
from tests.airflow_helpers import Mailbox, airflow_test_env, free_port, small_params
from tests.services import postgres_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """Airflow standalone on a free port with retrain unpaused, its metadata on PostgreSQL (SQLite's
    "database is locked" made `backfill create` beside a busy scheduler flaky); stopped (and checked) at
    the end."""
    import sqlalchemy as sa

    databases = postgres_database()
    metadata = sa.make_url(next(databases)).set(drivername="postgresql+psycopg2")
    root = tmp_path_factory.mktemp("standalone")
    params_file, params, layout = small_params(root)
    mailbox, port = Mailbox(), free_port()
    mailbox.server.start()
    env = airflow_test_env(layout, params_file, mailbox, port,
                           metadata_url=metadata.render_as_string(hide_password=False))
    password = airflow_local.admin_password(layout)
    airflow_local.prepare(env, unpause=())
    proc = airflow_local.start(env, root / "standalone.log")
    started = {"proc": proc, "seen": set()}
    try:
        airflow_local.wait_healthy(port, proc, timeout_s=300)
        api = AirflowApi(port, airflow_local.ADMIN, password)
        assert set(api.wait_dags(schedule.DAG_IDS).values()) == {True}, "paused at creation"
        api.set_paused("retrain", False)
        started["seen"] = family(proc.pid, set())
        yield {"api": api, "params": params, "layout": layout, "mailbox": mailbox, "env": env, **started}
    finally:
        airflow_local.stop(proc)  # a no-op after test_stop_leaves_no_process_behind
        mailbox.server.stop()
        next(databases, None)


def require_approval(env: dict[str, str], on: bool) -> None:
    """Flip gate.require_approval in the instance's params.yaml (tasks read it when they run)."""
    path = Path(env["RAILCAST_PARAMS"])
    raw = yaml.safe_load(path.read_text())
    raw["gate"]["require_approval"] = on
    path.write_text(yaml.safe_dump(raw))


def test_retrain_with_approval_then_asset_triggered_under_the_scheduler(standalone):
    """Manual retrains under gate.require_approval wait at Airflow's approval step: a Reject keeps the
    champion (none), an Approve promotes, each answer in the registry audit; then, approval off, a drift
    asset event (no logical date) retrains an identical model the gate refuses without asking anyone."""
    api, layout, mailbox = standalone["api"], standalone["layout"], standalone["mailbox"]
    env = standalone["env"]
    first = standalone["params"].simulation.start_date
    as_of = write_days(standalone["params"], layout, first, 5, 500)
    assert {p["name"]: p["slots"] for p in api.call("GET", "/api/v2/pools")["pools"]}["registry"] == 1
    require_approval(env, True)
    try:
        rejected = api.trigger_manual("retrain", {"reason": "first model", "as_of": as_of.isoformat()})
        asked = api.respond("retrain", rejected["dag_run_id"], "approve", "Reject",
                            {"comment": "not on a Friday"})
        assert asked["subject"] == "Promote model version 1 to champion?", asked
        assert "| persistence_gain |" in asked["body"] and "| board_gain |" in asked["body"], asked["body"]
        assert "decision-v1.json" in asked["body"]
        assert api.wait_finished("retrain", rejected["dag_run_id"])["state"] == "success"
        assert tracking.get_alias(layout, tracking.CHAMPION) is None, "a rejected model is not promoted"
        approved = api.trigger_manual("retrain", {"reason": "first model, again", "as_of": as_of.isoformat()})
        api.respond("retrain", approved["dag_run_id"], "approve", "Approve", {"comment": "looks right"})
        assert api.wait_finished("retrain", approved["dag_run_id"])["state"] == "success"
        assert tracking.get_alias(layout, tracking.CHAMPION) == "2"
    finally:
        require_approval(env, False)
    drift = api.call("GET", f"/api/v2/assets?uri_pattern={schedule.ASSET_DRIFT}")["assets"][0]
    api.call("POST", "/api/v2/assets/events", {"asset_id": drift["id"], "extra": {
        "day": "2025-09-05", "window_end": as_of.isoformat(), "evidence": {"drifted": ["delay_at_pred"]}}})
    triggered = wait_asset_run(api)
    assert triggered["logical_date"] is None and triggered["run_type"] == "asset_triggered"
    assert api.wait_finished("retrain", triggered["dag_run_id"])["state"] == "success"
    states = {t["task_id"]: t["state"] for t in api.task_instances("retrain", triggered["dag_run_id"])}
    assert states["approve"] == "skipped" and states["promote"] == "success", states
    assert tracking.get_alias(layout, tracking.CHAMPION) == "2"
    audit = [(e["action"], e["to"], e["why"]) for e in history.read_audit(layout) if e["alias"] == "champion"]
    assert [(a, to) for a, to, _ in audit] == [("refused", "1"), ("move", "2"), ("refused", "3")], audit
    assert audit[0][2] == "rejected by admin: not on a Friday"
    assert audit[1][2].endswith("; approved by admin: looks right")
    assert audit[2][2].startswith("gate failed"), "the identical retrain must not beat the champion"
    wait_for_mail(mailbox, 3)
    assert sorted(m["Subject"] for m in mailbox.messages) == [
        "[railcast] model version 1 not promoted", "[railcast] model version 2 promoted to champion",
        "[railcast] model version 3 not promoted"]
    ids = [m["Message-ID"] for m in mailbox.messages]
    assert len(ids) == len(set(ids)), "every alert arrives once"
    others = {d: api.runs(d) for d in schedule.DAG_IDS if d != "retrain"}
    assert others == {d: [] for d in others}, "paused DAGs must not run"


def test_backfill_create_under_the_scheduler_rewrites_identical_partitions(standalone):
    """`airflow backfill create` (the CLI users run) queues ingest runs the scheduler executes; a second
    backfill of the same days reprocesses them into byte-identical hour partitions."""
    api, layout, env = standalone["api"], standalone["layout"], standalone["env"]
    # unpaused with its wall-clock intervals claimed (a real ingest of today would run otherwise and
    # outlive the test); build_dataset stays paused: the full chain is test_backfill.py's
    claim_wall_clock(api, lambda _: None, ("ingest",))
    days = ["2025-09-22", "2025-09-23"]
    backfill = [airflow_local.airflow_bin(), "backfill", "create", "--dag-id", "ingest",
                "--from-date", days[0], "--to-date", days[-1], "--dag-run-conf", '{"source": "simulator"}',
                "--reprocess-behavior", "completed"]  # the first has nothing to reprocess unless retried
    airflow_cli(backfill, env)
    api.wait_backfills("ingest", 1)
    files = sorted(layout.dataset("snapshots").glob("2025-09-2[123]T*.parquet"))
    assert len(files) == 48, "two Berlin days of UTC hour partitions"
    before = {p.name: (p.read_bytes(), p.stat().st_ino) for p in files}
    airflow_cli(backfill, env)  # the same days again: every run reprocessed
    api.wait_backfills("ingest", 2)
    after = {p.name: (p.read_bytes(), p.stat().st_ino) for p in files}
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    assert all(after[k][1] != before[k][1] for k in before), "the second backfill rewrote every hour"
    runs = [r for r in api.runs("ingest") if r["run_type"] == "backfill"]
    berlin = sorted(dt.datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00")).astimezone(BERLIN)
                    for r in runs)
    assert [d.date().isoformat() for d in berlin] == days and {d.hour for d in berlin} == {0}
    assert {r["state"] for r in runs} == {"success"}


def airflow_cli(command: list[str], env: dict[str, str]) -> None:
    """Run an `airflow` CLI command the way a user does, once (no retry: the metadata database is
    PostgreSQL), showing its output if it fails."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def test_stop_leaves_no_process_behind(standalone):
    """Runs last in this module: stops Airflow itself and checks every process it ever saw is gone."""
    proc, seen = standalone["proc"], standalone["seen"]
    seen |= family(proc.pid, seen)
    workers = [pid for pid, _ in seen if "LocalExecutor" in cmdline(pid)]
    assert workers, "the scheduler should have started LocalExecutor workers"
    t0 = time.monotonic()
    airflow_local.stop(proc)
    assert time.monotonic() - t0 < 60, "stop is bounded"
    alive = process_table()
    left = [pid for pid, start in seen if pid in alive and alive[pid][3] == start and alive[pid][2] != "Z"]
    assert left == [], f"orphans after stop: {[cmdline(p) for p in left]}"
    assert airflow_local.group_members(proc.pid) == []


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for_mail(mailbox: Mailbox, count: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while len(mailbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.5)


def wait_asset_run(api: AirflowApi, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [r for r in api.runs("retrain") if r["run_type"] == "asset_triggered"]
        if found:
            return found[0]
        time.sleep(2)
    raise TimeoutError("no asset-triggered retrain run")
