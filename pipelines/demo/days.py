"""The demo's day loop over Airflow: data up front, then per simulated day score -> monitor -> retrain.

Ingest runs for every day are queued at once (they do not depend on the model); the scheduler runs
`build_dataset` from their snapshots events. Scoring and monitoring must follow the champion, so they
go day by day; a drift verdict's retrain is the scheduler's asset-triggered run, awaited here.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from pipelines.config import Params
from pipelines.demo.on_airflow import RUN_PREFIX, Progress, trigger_day
from pipelines.ops.airflow_api import AirflowApi, AirflowError
from pipelines.storage import Layout, read_json
from pipelines.validation.gate import ledger_file

DATA_DAGS = ("ingest", "build_dataset")
# Ingest runs this many days ahead of the day being scored: enough to keep build_dataset busy, few
# enough that simulating does not starve the builds (the critical path) of the 2 cores.
INGEST_AHEAD_DAYS = 3


class DayLoop:
    """Drives one demo through the REST API; keeps per-phase timings for the budget."""

    def __init__(self, api: AirflowApi, params: Params, layout: Layout, progress: Progress,
                 timeout_s: float = 900) -> None:
        self.api, self.params, self.layout, self.progress = api, params, layout, progress
        self.timeout_s = timeout_s
        self.seen_retrains = {r["dag_run_id"] for r in api.runs("retrain")}
        self.retrain_seconds: list[float] = []
        self.days: list[dt.date] = []
        self.pending: list[dt.date] = []
        self.conf: dict = {}
        self.rebuilt: set[dt.date] = set()

    def queue_ingest(self, days: list[dt.date], scenario: str) -> None:
        """Plan `ingest` (simulator source, the demo's scenario) for every day; runs start via `feed`."""
        self.conf = {"source": "simulator", "scenario": scenario}
        self.pending = list(days)
        self.days = days[:-1]  # the last ingest day only closes the day before it

    def feed(self, day: dt.date) -> None:
        """Trigger the planned ingest runs up to INGEST_AHEAD_DAYS after `day`, in calendar order."""
        horizon = day + dt.timedelta(days=INGEST_AHEAD_DAYS)
        while self.pending and self.pending[0] <= horizon:
            trigger_day(self.api, self.params, "ingest", self.pending.pop(0), self.conf)

    def _data_runs(self) -> dict[str, list[dict]]:
        """Runs of the data DAGs; raises when one failed (placeholders excepted)."""
        runs = {dag_id: self.api.runs(dag_id) for dag_id in DATA_DAGS}
        for dag_id, found in runs.items():
            failed = [r["dag_run_id"] for r in found if r["state"] == "failed"
                      and "placeholder" not in r["dag_run_id"]]
            if failed:
                raise AirflowError(f"{dag_id} run(s) {failed} failed; open them in the Airflow UI "
                                   f"({self.api.base}/dags/{dag_id}) for the task logs")
        return runs

    def _build_idle(self, runs: dict[str, list[dict]]) -> bool:
        """No build_dataset run active and no snapshots event waiting for one."""
        if any(r["state"] in ("queued", "running") for r in runs["build_dataset"]):
            return False
        try:
            queued = self.api.call("GET", "/api/v2/dags/build_dataset/assets/queuedEvents")
        except AirflowError:  # 404: nothing queued
            return True
        return not queued.get("queued_events")

    def rebuild_missing(self, runs: dict[str, list[dict]]) -> list[dt.date]:
        """Trigger build_dataset for the days whose data is in but whose features never got built.

        Airflow 3.3 keeps one queue row per (asset, DAG): snapshots events that arrive while
        build_dataset waits at max_active_runs=1 are not consumed by the run then created, and no later
        run is queued for them. A manual run per such day (data interval = the period in which the day
        closed) builds it as the scheduled run would have.
        """
        ingested = {r["dag_run_id"] for r in runs["ingest"] if r["state"] == "success"}
        missing = [d for d in self.days if d not in self.rebuilt
                   and f"{RUN_PREFIX}{d + dt.timedelta(days=1)}" in ingested
                   and not ledger_file(self.layout, "validate_features", d).exists()]
        for day in missing:
            trigger_day(self.api, self.params, "build_dataset", day)
            self.rebuilt.add(day)
        if missing:
            self.progress(f"build_dataset: snapshots events of {len(missing)} day(s) were dropped by the "
                          f"scheduler; triggered it for {[d.isoformat() for d in missing]}")
        return missing

    def wait_built(self, day: dt.date) -> None:
        """Block until build_dataset validated the features of `day` (its last task's ledger)."""
        ledger = ledger_file(self.layout, "validate_features", day)
        deadline, idle = time.monotonic() + self.timeout_s, 0
        while not ledger.exists():
            if time.monotonic() > deadline:
                raise AirflowError(f"features of {day} not built after {self.timeout_s:.0f} s")
            runs = self._data_runs()
            idle = idle + 1 if self._build_idle(runs) else 0
            if idle >= 3:  # idle three polls in a row: no event or run is on its way
                self.rebuild_missing(runs)
                idle = 0
            time.sleep(1.5)
        if read_json(ledger).get("verdict") != "passed":
            raise AirflowError(f"the features of {day} failed validation: see {ledger}")

    def run_dag(self, dag_id: str, day: dt.date) -> str:
        """Trigger `dag_id` for service date `day` and wait for it; returns the run id."""
        run_id = trigger_day(self.api, self.params, dag_id, day)
        self.api.wait(dag_id, run_id, self.timeout_s)
        return run_id

    def await_retrains(self) -> list[dict]:
        """Wait for the asset-triggered retrain run(s) the scheduler creates from a drift event."""
        t0, deadline = time.monotonic(), time.monotonic() + self.timeout_s
        new: list[dict] = []
        while not new:
            if time.monotonic() > deadline:
                raise AirflowError("the monitor emitted a drift event but the scheduler created no "
                                   f"retrain run in {self.timeout_s:.0f} s")
            new = [r for r in self.api.runs("retrain") if r["dag_run_id"] not in self.seen_retrains]
            time.sleep(0.5)
        done = []
        for run in new:
            self.seen_retrains.add(run["dag_run_id"])
            finished = self.api.wait("retrain", run["dag_run_id"], self.timeout_s)
            done.append({"run_id": run["dag_run_id"], "run_type": finished["run_type"],
                         "state": finished["state"]})
        self.retrain_seconds.append(time.monotonic() - t0)
        return done

    def run_day(self, n: int, day: dt.date) -> dict[str, Any]:
        """Score and monitor service date `day` (day `n` of the calendar); await any retrain it causes."""
        t0 = time.monotonic()
        self.feed(day)
        self.wait_built(day)
        waited = time.monotonic() - t0
        self.run_dag("score", day)
        monitor_run = self.run_dag("monitor", day)
        result = self.api.xcom("monitor", monitor_run, "monitor") or {}
        retrains = self.await_retrains() if result.get("drift_events") else []
        return {"day": n, "date": day.isoformat(), "monitor_run": monitor_run, "retrains": retrains,
                "wait_data_s": round(waited, 1), "seconds": round(time.monotonic() - t0, 1)}
