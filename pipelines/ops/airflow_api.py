"""The one client of Airflow 3's REST API (v2, token auth) on 127.0.0.1: the demo and the Airflow tests
trigger, watch and list DAG runs through it."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

FINISHED = ("success", "failed")


class AirflowError(RuntimeError):
    """A DAG run failed or did not finish in time, or the API refused a call (`status`: its HTTP code)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AirflowApi:
    """Token-authenticated calls to `http://127.0.0.1:<port>`; the token is renewed once on a 401."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._login = {"username": username, "password": password}
        self.token = self._new_token()

    def _new_token(self) -> str:
        return self._send("POST", "/auth/token", self._login, token=None)["access_token"]

    def _send(self, method: str, path: str, body: Any, token: str | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, method=method, data=data,
                                         headers={"Content-Type": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else {}

    def call(self, method: str, path: str, body: Any = None, attempts: int = 6) -> Any:
        """One API call; retried on 5xx and connection errors (SQLite metadata DB: "database is locked"
        under load), a 401 renews the token; raises AirflowError with the server's explanation."""
        for attempt in range(attempts):
            try:
                return self._send(method, path, body, self.token)
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    self.token = self._new_token()
                    continue
                detail = exc.read().decode(errors="replace")[:500]
                if exc.code < 500 or attempt == attempts - 1:
                    raise AirflowError(f"{method} {path}: HTTP {exc.code}: {detail}", exc.code) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if attempt == attempts - 1:
                    raise AirflowError(f"{method} {path}: {exc}") from None
            time.sleep(min(0.5 * 2**attempt, 5.0))
        raise AirflowError(f"{method} {path}: no answer after {attempts} attempts")

    def dag(self, dag_id: str) -> dict:
        """The DAG's record (is_paused, next_dagrun_*)."""
        return self.call("GET", f"/api/v2/dags/{dag_id}")

    def dags(self) -> dict[str, bool]:
        """Serialized DAG ids and whether each is paused."""
        return {d["dag_id"]: d["is_paused"] for d in self.call("GET", "/api/v2/dags?limit=100")["dags"]}

    def dag_ids(self) -> list[str]:
        """DAG ids the DAG processor has serialized so far."""
        return sorted(self.dags())

    def wait_dags(self, dag_ids: Iterable[str], timeout_s: float = 180) -> dict[str, bool]:
        """Wait until the DAG processor has serialized every one of `dag_ids`; their paused flags."""
        wanted, deadline = set(dag_ids), time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if wanted <= set(found := self.dags()):
                return found
            time.sleep(1)
        missing = sorted(wanted - set(self.dags()))
        raise AirflowError(f"DAGs not serialized after {timeout_s:.0f} s: {missing}")

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        """Pause or unpause a DAG."""
        return self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def trigger(self, dag_id: str, run_id: str, start: dt.datetime, end: dt.datetime,
                conf: dict | None = None, note: str | None = None,
                logical_date: str | None = None) -> dict:
        """A manual run whose logical date is `start` (unless given) and data interval exactly [start, end).

        Airflow infers a manual run's interval as the last complete period *before* the logical date
        (`infer_manual_data_interval`), one day earlier than a scheduled run with the same logical
        date; giving the interval explicitly makes the run identical to the scheduled one.
        """
        body = {"dag_run_id": run_id, "logical_date": logical_date or start.isoformat(),
                "data_interval_start": start.isoformat(), "data_interval_end": end.isoformat(),
                "conf": conf or {}, **({"note": note} if note else {})}
        try:
            return self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        except AirflowError as exc:
            if exc.status != 409:  # 409: a retried POST whose first attempt did create the run
                raise
            return self.run(dag_id, run_id)

    def trigger_manual(self, dag_id: str, conf: dict[str, Any]) -> dict:
        """A manual run with no logical date, like the UI's trigger button."""
        return self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})

    def run(self, dag_id: str, run_id: str) -> dict:
        """One DAG run."""
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def runs(self, dag_id: str, run_type: str | None = None) -> list[dict]:
        """Runs of a DAG (oldest first), optionally of one run_type (manual, scheduled, asset_triggered)."""
        found = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=1000&order_by=run_after")["dag_runs"]
        return [r for r in found if run_type is None or r["run_type"] == run_type]

    def set_run_state(self, dag_id: str, run_id: str, state: str, note: str | None = None) -> dict:
        """Mark a run success/failed/queued (with an explanatory note shown in the UI)."""
        body = {"state": state, **({"note": note} if note else {})}
        return self.call("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}",
                         body)

    def delete_run(self, dag_id: str, run_id: str) -> None:
        """Delete a run from the metadata DB."""
        self.call("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Task instances of a run."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"
        return self.call("GET", path)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        """A task's return value (deserialized)."""
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/"
                f"{task_id}/xcomEntries/return_value?deserialize=true")
        value = self.call("GET", path).get("value")
        return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value

    def respond(self, dag_id: str, run_id: str, task_id: str, option: str, inputs: dict | None = None,
                timeout_s: float = 600, settle_s: float = 30.0) -> dict:
        """Answer a human-in-the-loop task once it has waited `settle_s` for one (its request, as shown
        to the approver, is returned): what the Required Actions page of the UI does. In Airflow 3.3 an
        answer before the scheduler has seen the parked try's process end (5 s after parking on a busy
        machine) has the try marked failed and retried, the answer lost: scripts must wait."""
        task = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}"
        deadline, since = time.monotonic() + timeout_s, None
        while since is None or time.monotonic() - since < settle_s:
            waiting = self.call("GET", task).get("state") in ("awaiting_input", "deferred")
            since = (since or time.monotonic()) if waiting else None
            if time.monotonic() > deadline:
                raise AirflowError(f"{dag_id}/{run_id}: {task_id} asked for no answer in {timeout_s:.0f} s")
            time.sleep(1)
        asked = self.call("GET", f"{task}/-1/hitlDetails")
        answer = {"chosen_options": [option], "params_input": inputs or {}}
        self.call("PATCH", f"{task}/-1/hitlDetails", answer)
        return asked

    def backfills(self, dag_id: str) -> list[dict]:
        """The DAG's backfills (`airflow backfill create`), oldest first."""
        return self.call("GET", f"/api/v2/backfills?dag_id={dag_id}")["backfills"]

    def wait_backfills(self, dag_id: str, count: int, timeout_s: float = 600) -> list[dict]:
        """Block until the DAG has `count` backfills, all completed; returns them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.backfills(dag_id)
            if len(found) >= count and all(b["completed_at"] for b in found):
                return found
            time.sleep(2)
        raise AirflowError(f"{count} {dag_id} backfill(s) not completed after {timeout_s:.0f} s")

    def wait_finished(self, dag_id: str, run_id: str, timeout_s: float = 600) -> dict:
        """Poll a run until it succeeded or failed (either is returned)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (run := self.run(dag_id, run_id))["state"] in FINISHED:
                return run
            time.sleep(2)
        raise AirflowError(f"{dag_id} run {run_id} not finished after {timeout_s:.0f} s")

    def wait(self, dag_id: str, run_id: str, timeout_s: float = 900, poll_s: float = 0.5) -> dict:
        """Block until the run finishes; raises AirflowError if it failed or timed out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.run(dag_id, run_id)
            if run["state"] == "failed":
                failed = [t["task_id"] for t in self.task_instances(dag_id, run_id) if t["state"] == "failed"]
                raise AirflowError(f"DAG run {dag_id}/{run_id} failed (tasks {failed}); open it in the "
                                   f"Airflow UI ({self.base}/dags/{dag_id}) for the task logs")
            if run["state"] == "success":
                return run
            time.sleep(poll_s)
        raise AirflowError(f"DAG run {dag_id}/{run_id} not finished after {timeout_s:.0f} s")
