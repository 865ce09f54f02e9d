"""A small client of Airflow 3's REST API (token login, DAG runs, pauses, backfills) on 127.0.0.1."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

DONE = ("success", "failed")


class AirflowApi:
    """Token-authenticated calls to `/api/v2` of a local Airflow (the admin of `airflow_local`)."""

    def __init__(self, port: int, password: str, username: str = "admin") -> None:
        self.base = f"http://127.0.0.1:{port}"
        body = self.call("POST", "/auth/token", {"username": username, "password": password}, auth=False)
        self.token = body["access_token"]

    def call(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        """One JSON request; raises urllib.error.HTTPError on a non-2xx answer."""
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def dags(self) -> dict[str, bool]:
        """Serialized DAG ids and whether each is paused."""
        return {d["dag_id"]: d["is_paused"] for d in self.call("GET", "/api/v2/dags?limit=100")["dags"]}

    def wait_dags(self, dag_ids: Iterable[str], timeout_s: float = 180) -> dict[str, bool]:
        """Wait until the DAG processor has serialized every one of `dag_ids`."""
        wanted, deadline = set(dag_ids), time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if wanted <= set(found := self.dags()):
                return found
            time.sleep(1)
        missing = sorted(wanted - set(self.dags()))
        raise TimeoutError(f"DAGs not serialized after {timeout_s:.0f} s: {missing}")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause one DAG."""
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> dict:
        """A manual run (no logical date), like the UI's trigger button."""
        return self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of `dag_id`, oldest first."""
        query = urllib.parse.urlencode({"limit": 100, "order_by": "id"})
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?{query}")["dag_runs"]

    def wait_run(self, dag_id: str, run_id: str, timeout_s: float = 600) -> dict:
        """Poll a run until it succeeded or failed."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (run := self.call("GET", path))["state"] in DONE:
                return run
            time.sleep(2)
        raise TimeoutError(f"{dag_id} run {run_id} not finished after {timeout_s:.0f} s")

    def wait_idle(self, dag_id: str, at_least: int, timeout_s: float = 600) -> list[dict]:
        """Wait until `dag_id` has `at_least` runs and none of them is queued or running."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            runs = self.runs(dag_id)
            if len(runs) >= at_least and all(r["state"] in DONE for r in runs):
                return runs
            time.sleep(2)
        raise TimeoutError(f"{dag_id}: runs still active after {timeout_s:.0f} s")
