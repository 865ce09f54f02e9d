"""The demo's Airflow side: a latency-tuned standalone, the simulated calendar's runs, and the day loop.

Every stage runs as an Airflow task. The driver triggers `ingest` for every simulated day up front
(ingest does not depend on the model; each run's snapshots event makes the scheduler run
`build_dataset`), then per day `score` and `monitor` with that day's data interval, and when the
monitor emitted a drift event it waits for the retrain run the *scheduler* creates from it: the driver
never triggers `retrain` itself.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.datasets import closed_service_dates
from pipelines.demo.preload import plugin_env, write_plugin
from pipelines.ops import airflow_local
from pipelines.ops.airflow_api import AirflowApi, AirflowError
from pipelines.runtime.schedule import DAG_IDS, REGISTRY_POOL
from pipelines.storage import Layout
from pipelines.timeutil import BERLIN, UTC

# Latency over throughput: the demo runs one small task after another.
LATENCY_ENV = {
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",  # DAG files do not change during a demo
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # unpaused by the driver after claiming
}
# the DAGs' daily cron hours (Europe/Berlin)
CRON_HOUR = {"ingest": 0, "build_dataset": 0, "score": 3, "monitor": 4}
RUN_PREFIX = "demo__"
Progress = Callable[[str], None]


def berlin(day: dt.date, hour: int = 0) -> dt.datetime:
    """The UTC instant of `hour`:00 Europe/Berlin on `day`."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BERLIN).astimezone(UTC)


def interval(dag_id: str, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The data interval (one cron period) of `dag_id` that processes service date `day`.

    `ingest` reads the day itself; the others run in the period in which `day` closed
    (detection.close_after_hours after its Berlin midnight, i.e. the morning after).
    """
    hour, first = CRON_HOUR[dag_id], day if dag_id == "ingest" else day + dt.timedelta(days=1)
    return berlin(first, hour), berlin(first + dt.timedelta(days=1), hour)


def demo_settings(layout: Layout, params_file: Path, smtp: dict) -> dict[str, str]:
    """What the demo adds to either profile's Airflow environment: settings tuned for latency, the
    preload plugin, the demo params and the capture SMTP server."""
    plugins = layout.airflow_home / "plugins"
    write_plugin(plugins)
    return {**LATENCY_ENV, **plugin_env(plugins), "RAILCAST_PARAMS": str(params_file),
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp)}


def demo_env(layout: Layout, port: int, params_file: Path, smtp: dict) -> dict[str, str]:
    """The embedded demo's Airflow environment: Railcast's embedded defaults plus `demo_settings`."""
    env = {**airflow_local.airflow_env(layout, port), **demo_settings(layout, params_file, smtp)}
    env.pop("MLFLOW_TRACKING_URI", None)  # the demo's own store under RAILCAST_HOME
    return env


@contextmanager
def standalone(layout: Layout, env: dict[str, str], port: int, progress: Progress) -> Iterator[AirflowApi]:
    """Start `airflow standalone`, create the registry pool, yield an API client; always stop it."""
    password = airflow_local.admin_password(layout)  # standalone migrates the fresh DB itself
    log_file = layout.airflow_home / "standalone.log"
    proc = airflow_local.start(env, log_file)
    try:
        seconds = airflow_local.wait_healthy(port, proc, timeout_s=300)
        progress(f"Airflow healthy after {seconds:.0f} s (log: {log_file})")
        api = AirflowApi(port, airflow_local.ADMIN, password)
        api.call("POST", "/api/v2/pools", {"name": REGISTRY_POOL, "slots": 1,
                                           "description": "alias moves and DVC writers, one at a time"})
        yield api
    finally:
        progress("stopping Airflow ...")
        code = airflow_local.stop(proc)
        progress(f"Airflow stopped (exit {code})")


def wait_for_dags(api: AirflowApi, timeout_s: float = 240) -> None:
    """Block until the DAG processor serialized every Railcast DAG."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if set(DAG_IDS) <= set(api.dag_ids()):
            return
        time.sleep(1)
    raise AirflowError(f"the DAG processor did not serialize {DAG_IDS} in {timeout_s:.0f} s")


def claim_wall_clock(api: AirflowApi, progress: Progress, dag_ids: tuple[str, ...] = DAG_IDS) -> None:
    """Unpause `dag_ids` without letting the scheduler run real (wall-clock) intervals during the demo.

    With catchup off, an unpaused DAG gets a run for the latest real interval (and one more when the
    wall clock passes the next cron time), which has no data in a simulation. The scheduler skips an
    interval whose logical date already has a run, so the demo first creates a placeholder run for the
    latest interval and for the next one, marked failed with a note before any task starts (the DAGs
    are still paused). They stay: without them the scheduler would re-create the latest interval.
    """
    claimed = []
    for dag_id in dag_ids:
        info = api.dag(dag_id)
        start, end = info.get("next_dagrun_data_interval_start"), info.get("next_dagrun_data_interval_end")
        if not (info.get("next_dagrun_logical_date") and start and end):
            continue  # asset-only schedules (retrain) have no wall-clock intervals
        lo, hi = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
        following = berlin(hi.astimezone(BERLIN).date() + dt.timedelta(days=1), hi.astimezone(BERLIN).hour)
        for n, (a, b) in enumerate(((lo, hi), (hi, following))):
            run_id = f"{RUN_PREFIX}wall_clock_placeholder_{n}"
            api.trigger(dag_id, run_id, a, b, note="placeholder for a wall-clock interval outside the "
                        "simulated calendar: never run, it stops the scheduler from running it")
            api.set_run_state(dag_id, run_id, "failed")
        claimed.append(dag_id)
    for dag_id in dag_ids:
        api.set_paused(dag_id, False)
    progress(f"DAGs unpaused; wall-clock intervals claimed by placeholder runs for {claimed}")


def trigger_day(api: AirflowApi, params, dag_id: str, day: dt.date, conf: dict | None = None) -> str:
    """Trigger `dag_id` for service date `day`; checks first that the interval closes exactly that day."""
    start, end = interval(dag_id, day)
    expected = day - dt.timedelta(days=1) if dag_id == "ingest" else day
    closed = closed_service_dates(params, start, end)
    if closed != [expected]:  # a wrong interval would silently process another day
        raise AirflowError(f"{dag_id} interval {start}..{end} closes {closed}, expected [{expected}]")
    run_id = f"{RUN_PREFIX}{day.isoformat()}"
    api.trigger(dag_id, run_id, start, end, conf=conf)
    return run_id
