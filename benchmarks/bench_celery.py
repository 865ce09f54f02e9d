"""Airflow's production profile measured (`railcast stack`: PostgreSQL, Celery workers, Redis).

1. Per-task latency, queued -> running -> success, of the same DAG (`ingest` from the simulator) over
   the same three days, one run at a time, on Celery workers and on the LocalExecutor (Airflow
   standalone on SQLite), with the same data store and state database behind both: only the executor
   differs. Medians over the six task instances.
2. A 14-day `build_dataset` backfill (`--max-active-runs 4`) on two workers, then again on one worker
   (the second stopped), each worker with one task slot: wall time, the ratio, and how busy the
   machine's cores were (all processes, from /proc/stat).

Needs PostgreSQL ($RAILCAST_TEST_POSTGRES, default postgres@127.0.0.1:5432) and Redis (127.0.0.1:6379).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from pipelines.config import PROJECT_ROOT, load_params
from pipelines.demo.on_airflow import claim_wall_clock
from pipelines.ops.airflow_settings import environment
from pipelines.storage import Layout
from pipelines.timeutil import BERLIN

POSTGRES = os.environ.get("RAILCAST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
INGEST_DAYS = ("2025-09-22", "2025-10-06")  # 15 days: a date's features need the next morning's polls
BUILD_DAYS = ("2025-09-23", "2025-10-06")   # 14 build_dataset runs, service dates 09-22 .. 10-05
LATENCY_DAYS = ("2025-10-13", "2025-10-15")


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def backfill(api, env: dict[str, str], dag_id: str, days: tuple[str, str], max_active: int,
             conf: str | None = None) -> dict:
    """`airflow backfill create` (reprocessing what ran) and wait; wall seconds and core use."""
    from pipelines.ops.airflow_local import airflow_bin

    count = len(api.backfills(dag_id)) + 1
    busy0, total0 = cpu_jiffies()
    t0 = time.perf_counter()
    command = [airflow_bin(), "backfill", "create", "--dag-id", dag_id, "--from-date", days[0], "--to-date",
               days[1], "--reprocess-behavior", "completed", "--max-active-runs", str(max_active)]
    subprocess.run(command + (["--dag-run-conf", conf] if conf else []), env=env, check=True,
                   capture_output=True)
    api.wait_backfills(dag_id, count, timeout_s=3600)
    wall = time.perf_counter() - t0
    busy1, total1 = cpu_jiffies()
    share = (busy1 - busy0) / (total1 - total0)
    return {"wall_s": round(wall, 1), "cores_busy": round(os.cpu_count() * share, 2)}


def latencies(api, dag_id: str, days: tuple[str, str]) -> dict:
    """Medians over the task instances of the backfill runs of `days`: queued -> running, running ->
    success, and scheduled -> success."""
    found = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances?limit=1000")["task_instances"]
    when = lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[1])
    chosen = [t for t in found if t["dag_run_id"].startswith("backfill__")
              and first <= when(t["logical_date"]).astimezone(BERLIN).date() <= last]
    spans = {"queued_to_running_s": [when(t["start_date"]) - when(t["queued_when"]) for t in chosen],
             "running_to_success_s": [when(t["end_date"]) - when(t["start_date"]) for t in chosen],
             "scheduled_to_success_s": [when(t["end_date"]) - when(t["scheduled_when"]) for t in chosen]}
    return {"task_instances": len(chosen),
            **{k: round(statistics.median(v).total_seconds(), 2) for k, v in spans.items()}}


def small_params(root: Path) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    raw["simulation"]["poll_interval_min"] = 15  # as the Airflow tests: 5x fewer snapshot rows
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def embedded_latencies(root: Path, params_file: Path, shared: dict[str, str]) -> dict:
    """The same ingest days on Airflow standalone (LocalExecutor, SQLite), on the stack's data store."""
    from pipelines.ops import airflow_local
    from pipelines.ops.airflow_api import AirflowApi
    from pipelines.ops.object_store import free_port_pairs

    layout, port = Layout(load_params(params_file), root / "embedded"), free_port_pairs(1)[0]
    env = {**airflow_local.airflow_env(layout, port, paused_at_creation=True), **shared,
           "RAILCAST_PARAMS": str(params_file)}
    password = airflow_local.admin_password(layout)
    airflow_local.prepare(env, unpause=())
    proc = airflow_local.start(env, root / "standalone.log")
    try:
        airflow_local.wait_healthy(port, proc, timeout_s=300)
        api = AirflowApi(port, airflow_local.ADMIN, password)
        api.wait_dags(["ingest"])
        claim_wall_clock(api, lambda _: None, ("ingest",))
        backfill(api, env, "ingest", LATENCY_DAYS, 1, '{"source": "simulator"}')
        return latencies(api, "ingest", LATENCY_DAYS)
    finally:
        airflow_local.stop(proc)


def run() -> dict:
    from pipelines.ops import stack as plan
    from pipelines.ops import stack_cli
    from pipelines.ops.airflow_api import AirflowApi, AirflowError
    from pipelines.ops.object_store import free_port_pairs
    from pipelines.ops.process_tree import Detached, stop_tree
    from pipelines.ops.stack_services import drop_databases
    from pipelines.runtime.schedule import DAG_IDS

    with tempfile.TemporaryDirectory(prefix="bench-celery-") as tmp:
        root = Path(tmp)
        params_file = small_params(root)
        ports = free_port_pairs(4)
        stack = plan.Stack(f"bench{secrets.token_hex(4)}", Layout(load_params(params_file), root / "home"),
                           POSTGRES, "redis://127.0.0.1:6379/0", airflow_port=ports[0], mlflow_port=ports[1],
                           s3_port=ports[2], health_port=ports[3], workers=2, concurrency=1)
        with environment({"RAILCAST_SECRETS_DIR": str(root / "secrets"), "RAILCAST_PARAMS": str(params_file),
                          "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}):
            t0 = time.perf_counter()
            record = stack_cli.up(stack)
            started = time.perf_counter() - t0
            try:
                found = stack.secrets()
                env = stack.airflow_env(found)
                api = AirflowApi(stack.airflow_port, "admin", found["admin_password"])
                api.wait_dags(DAG_IDS)
                claim_wall_clock(api, lambda _: None, ("ingest",))  # no real-time run beside the backfills
                ingest = backfill(api, env, "ingest", INGEST_DAYS, 4, '{"source": "simulator"}')
                backfill(api, env, "ingest", LATENCY_DAYS, 1, '{"source": "simulator"}')
                celery = latencies(api, "ingest", LATENCY_DAYS)
                try:  # the ingest backfills' snapshots events would start asset runs beside the backfill
                    api.call("DELETE", "/api/v2/dags/build_dataset/assets/queuedEvents")
                except AirflowError:  # 404: none queued
                    pass
                claim_wall_clock(api, lambda _: None, ("build_dataset",))
                two = backfill(api, env, "build_dataset", BUILD_DAYS, 4)
                worker = next(s for s in record["services"] if s["name"] == "airflow-worker-2")
                stop_tree(Detached(worker["pid"], worker["start"]), timeout_s=30)
                one = backfill(api, env, "build_dataset", BUILD_DAYS, 4)
                local = embedded_latencies(root, params_file, stack.railcast_env(found))
            finally:
                stack_cli.down(stack)
                drop_databases(stack)
    return {"stack_up_s": round(started, 1), "ingest_15_days_2_workers": ingest,
            "per_task_celery": celery, "per_task_local_executor": local,
            "build_dataset_14_days": {"two_workers": two, "one_worker": one,
                                      "speedup": round(one["wall_s"] / two["wall_s"], 2), "goal": 1.6},
            "worker_slots": 1}
