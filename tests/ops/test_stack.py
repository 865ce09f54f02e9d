"""The production deployment, started the way a user starts it (`railcast stack up`): PostgreSQL metadata,
Celery workers fed through Redis, the FAB auth manager, an MLflow server and the S3 store, each a process of
its own on loopback. Every listener is on loopback; the admin signs in through the UI in a real browser;
backfills run on both workers through a killed worker, a killed scheduler and dropped database
connections with identical bytes; `down` leaves no process behind. (The closed loop on this deployment,
a drift event's retrain on the workers and its promotion included, is `make demo STACK=production`'s
test in tests/demo/test_demo.py.)
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from pipelines.demo.on_airflow import claim_wall_clock
from pipelines.ops import stack as plan
from pipelines.ops import stack_cli
from pipelines.ops.airflow_api import AirflowApi, AirflowError
from pipelines.ops.object_store import free_port_pairs
from pipelines.ops.process_tree import Detached, family, signal_all
from pipelines.ops.stack_services import drop_databases
from pipelines.runtime import schedule
from pipelines.storage import Layout
from tests.airflow_helpers import Mailbox, free_port, slow, small_params
from tests.services import POSTGRES, require_stack_services, unavailable

pytestmark = [pytest.mark.e2e, slow]
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """`railcast stack up` with two workers on free ports, its own databases and Redis key prefix; the
    DAGs start paused (the daily ones would run today's interval); stopped and dropped at the end."""
    require_stack_services(REDIS)
    root = tmp_path_factory.mktemp("stack")
    params_file, params, _ = small_params(root)
    mailbox = Mailbox()
    mailbox.server.start()
    stack = plan.Stack(f"rct{uuid.uuid4().hex[:8]}", Layout(params, root / "home"), POSTGRES, REDIS,
                       airflow_port=free_port(), mlflow_port=free_port(), s3_port=free_port_pairs(1)[0],
                       health_port=free_port(), workers=2)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(plan.SECRETS_DIR_ENV, str(root / "secrets"))
        env.setenv("RAILCAST_PARAMS", str(params_file))
        env.setenv("AIRFLOW_CONN_SMTP_DEFAULT", mailbox.connection())  # no alert leaves the test
        env.setenv("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
        # a killed worker's task is noticed after 45 s without heartbeat (Airflow's default: 300 s) and a
        # task it had reserved is requeued after 60 s in the queue (default 600 s)
        env.setenv("AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT", "45")
        env.setenv("AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT", "60")
        for name in ("MLFLOW_TRACKING_URI", "RAILCAST_DB_URL", "RAILCAST_DATA_URI", "RAILCAST_DVC_REMOTE"):
            env.delenv(name, raising=False)
        try:
            record = stack_cli.up(stack)
            secrets = stack.secrets()
            for name, value in stack.railcast_env(secrets).items():  # this test reads what tasks wrote
                env.setenv(name, value)
            api = AirflowApi(stack.airflow_port, "admin", secrets["admin_password"])
            api.wait_dags(schedule.DAG_IDS)
            seen = set().union(*(family(s["pid"], set()) for s in record["services"]))
            yield {"stack": stack, "record": record, "api": api, "params": params, "mailbox": mailbox,
                   "password": secrets["admin_password"], "seen": seen, "root": root,
                   "cli_env": stack.airflow_env(secrets), "partitions": {}}
        finally:
            stack_cli.down(stack)
            drop_databases(stack)
            mailbox.server.stop()


def test_every_listener_is_on_loopback_and_anonymous_calls_are_refused(deployment):
    import urllib.error
    import urllib.request

    pids = {pid for s in deployment["record"]["services"] for pid, _ in family(s["pid"], set())}
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    ours = [line.split()[3] for line in listening.splitlines()
            if pids & {int(p) for p in re.findall(r"pid=(\d+)", line)}]
    assert len(ours) >= 4, f"the API server, the scheduler's health check, MLflow and S3 listen: {ours}"
    assert [a for a in ours if not a.startswith("127.0.0.1:")] == [], "no listener beyond loopback"
    base = deployment["record"]["urls"]["airflow"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/api/v2/dags", timeout=10)
    assert refused.value.code in (401, 403)
    assert stack_cli.status(deployment["stack"])["answering"] == {"airflow": True, "mlflow": True, "s3": True}


def test_the_admin_signs_in_through_the_ui_and_sees_the_dags(deployment):
    browser_path = shutil.which("chromium")
    if browser_path is None:
        unavailable("Chromium (Debian package `chromium`; `make tools` installs it)", "not on PATH")
    from playwright.sync_api import sync_playwright

    base = deployment["record"]["urls"]["airflow"]
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/dags", timeout=60_000)
        page.wait_for_selector("input[name=username]", timeout=60_000)  # the FAB login form
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "wrong" + deployment["password"])
        page.click("[type=submit]")
        page.wait_for_selector("input[name=username]", timeout=30_000)
        assert "login" in page.url, f"a wrong password must not sign in: {page.url}"
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", deployment["password"])
        page.click("[type=submit]")
        page.goto(f"{base}/dags", timeout=60_000)
        for dag_id in schedule.DAG_IDS:
            page.get_by_text(dag_id, exact=True).first.wait_for(timeout=60_000)
        page.goto(f"{base}/dags/retrain", timeout=60_000)
        page.get_by_label("Dag Docs").first.click(timeout=60_000)
        page.get_by_text(re.compile("champion/challenger gate")).first.wait_for(timeout=30_000)
        page.screenshot(path=str(deployment["root"] / "retrain-docs.png"))
        browser.close()


BACKFILL_DAYS = ("2025-09-22", "2025-10-05")  # 14 Berlin days


def backfill(deployment) -> None:
    """`airflow backfill create` of BACKFILL_DAYS of `ingest` from the simulator, as a user runs it; on
    PostgreSQL it needs no retry (the SQLite profile's "database is locked" is gone)."""
    from pipelines.ops.airflow_local import airflow_bin

    command = [airflow_bin(), "backfill", "create", "--dag-id", "ingest", "--from-date", BACKFILL_DAYS[0],
               "--to-date", BACKFILL_DAYS[1], "--dag-run-conf", '{"source": "simulator"}',
               "--reprocess-behavior", "completed", "--max-active-runs", "4"]
    done = subprocess.run(command, env=deployment["cli_env"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def running_task(api: AirflowApi, timeout_s: float = 300) -> dict:
    """The first task instance of a backfill run of ingest seen running, with the worker it runs on."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = api.call("GET", "/api/v2/dags/ingest/dagRuns/~/taskInstances?state=running")["task_instances"]
        found = [t for t in found if t["dag_run_id"].startswith("backfill__") and t.get("hostname")]
        if found:
            return found[0]
        time.sleep(0.5)
    raise TimeoutError("no ingest task started running")


def kill(deployment, service_name: str) -> None:
    """SIGKILL a component and everything under it, as if its host had died."""
    service = next(s for s in deployment["record"]["services"] if s["name"] == service_name)
    signal_all(family(service["pid"], set()), signal.SIGKILL)


def snapshot_partitions(deployment) -> dict[str, bytes]:
    layout = Layout(deployment["params"], deployment["stack"].layout.root, data=f"s3://{plan.BUCKET}/data")
    return {p.name: p.read_bytes() for p in sorted(layout.dataset("snapshots").glob("2025-*.parquet"))}


def ingest_task_instances(api: AirflowApi) -> list[dict]:
    """Task instances of the backfill runs."""
    found = api.call("GET", "/api/v2/dags/ingest/dagRuns/~/taskInstances?limit=1000")["task_instances"]
    return [t for t in found if t["dag_run_id"].startswith("backfill__")]


def test_a_backfill_runs_on_both_workers_and_survives_a_killed_worker(deployment):
    """14 days of `ingest` backfilled on two workers; one worker is SIGKILLed mid-task: Airflow notices
    the missing heartbeat and retries the task on the other worker; every run completes; `stack up`
    brings the dead worker back."""
    api, stack = deployment["api"], deployment["stack"]
    claim_wall_clock(api, lambda _: None, ("ingest",))  # unpaused, without a real-time run of today
    backfill(deployment)
    victim = running_task(api)
    kill(deployment, f"airflow-{victim['hostname']}")
    api.wait_backfills("ingest", 1, timeout_s=1500)
    deployment["record"] = stack_cli.up(stack)  # `up` again restarts only the dead worker
    retried = next(t for t in ingest_task_instances(api)
                   if (t["dag_run_id"], t["task_id"]) == (victim["dag_run_id"], victim["task_id"]))
    assert retried["state"] == "success" and retried["try_number"] >= 2, retried
    assert retried["hostname"] != victim["hostname"], "the retry ran on the surviving worker"
    instances = ingest_task_instances(api)
    assert len(instances) == 28 and {t["state"] for t in instances} == {"success"}
    assert {t["hostname"] for t in instances} <= {"worker-1", "worker-2"}
    deployment["partitions"] = snapshot_partitions(deployment)
    assert len(deployment["partitions"]) == 14 * 24, "every UTC hour of 14 Berlin days"


def supervised_wait(deployment: dict, count: int, timeout_s: float) -> None:
    """Wait for the ingest backfills while doing what the restart policy does in production
    (`restart: unless-stopped` in docker/compose.yaml): a service that exits, as Airflow's scheduler does
    when PostgreSQL drops its connection mid-query, is started again (`stack up` starts only the dead)."""
    deadline = time.monotonic() + timeout_s
    while True:
        deployment["record"] = stack_cli.up(deployment["stack"])
        try:
            deployment["api"].wait_backfills("ingest", count, timeout_s=30)
            return
        except AirflowError:
            if time.monotonic() > deadline:
                raise


def test_a_rerun_through_scheduler_and_database_faults_rewrites_identical_partitions(deployment):
    """The same backfill again, while the scheduler is SIGKILLed and restarted and PostgreSQL drops every
    connection of the deployment (a service that exits on it is started again, as the compose file's
    restart policy does): every run completes and every partition has the same bytes."""
    import sqlalchemy as sa

    api, stack = deployment["api"], deployment["stack"]
    assert deployment["partitions"], "needs the first backfill"
    backfill(deployment)
    running_task(api)
    kill(deployment, "airflow-scheduler")
    time.sleep(5)
    deployment["record"] = stack_cli.up(stack)  # restarts the scheduler; it adopts the running tasks
    running_task(api)
    engine = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        dropped = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname LIKE :prefix AND pid <> pg_backend_pid()"), {"prefix": f"{stack.name}_%"}).scalar()
    engine.dispose()
    assert dropped > 0
    supervised_wait(deployment, count=2, timeout_s=1500)
    instances = ingest_task_instances(api)
    assert {t["state"] for t in instances} == {"success"}
    assert {t["hostname"] for t in instances} == {"worker-1", "worker-2"}, "both workers took tasks"
    assert snapshot_partitions(deployment) == deployment["partitions"], "same bytes as the first backfill"


def test_down_leaves_no_process_behind(deployment):
    """Runs last in this module: every process the stack ever had is gone after `down`."""
    stack, seen = deployment["stack"], set(deployment["seen"])
    for service in deployment["record"]["services"]:
        seen |= family(service["pid"], seen)
    result = stack_cli.down(stack)
    assert result["left_running"] == []
    assert [ident for ident in seen if Detached(*ident).alive()] == [], "orphans after down"
    assert stack_cli.down(stack)["stopped"] == [], "a second down finds nothing to stop"
