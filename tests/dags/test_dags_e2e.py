"""End to end through the DAGs on a small simulated scenario: ingest -> build_dataset -> retrain.

Real components: Airflow's `dag.test()` runner with a migrated metadata DB, the simulator's bulk path,
Great Expectations, DuckDB, LightGBM, an MLflow SQLite store in the test's directory, and an SMTP server
on loopback that must receive the retrain decision (promoted, or refused with its reason).
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from pipelines.datasets import close_time, service_date_hours
from pipelines.registry import history, tracking
from tests.airflow_helpers import (
    Mailbox,
    airflow_test_env,
    dag_tests,
    daily_logical_date,
    migrated,
    small_params,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FIRST = dt.date(2025, 9, 15)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(3)]
TRAIN = {"window_days": 2, "min_days": 2, "holdout_days": 1}  # 3 built days: 2 to train, 1 to judge


def wait_for(mailbox: Mailbox, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(mailbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.2)


def test_build_dataset_then_retrain_promotes_then_a_stricter_gate_refuses(tmp_path, tmp_path_factory,
                                                                          monkeypatch):
    """The gate decides, not luck: the first retrain beats persistence by its margin and is promoted;
    a dry run (conf dry_run) evaluates and records version 2 but moves no alias; a third request under a
    gate asking for a 95% gain is refused and the champion stays. Before, the
    test accepted either outcome of one run and so checked the email, not the gate."""
    params_file, params, layout = small_params(tmp_path, train=TRAIN)
    (tmp_path / "strict").mkdir()
    strict_file, _, _ = small_params(tmp_path / "strict", train=TRAIN,
                                     gate={"min_gain_over_persistence": 0.95,
                                           "lower_bars_to_champion": False})   # an absolute bar
    mailbox = Mailbox()
    mailbox.server.start()
    try:
        env = airflow_test_env(layout, params_file, mailbox)
        migrated(env, tmp_path_factory.getbasetemp() / "airflow-db-template")
        as_of = close_time(params, DAYS[-1]) + dt.timedelta(hours=12)  # labels of the last day matured
        steps = [{"dag_id": "ingest", "logical_date": daily_logical_date(d), "conf": {"source": "simulator"}}
                 for d in [*DAYS, DAYS[-1] + dt.timedelta(days=1)]]
        steps += [{"dag_id": "build_dataset", "logical_date": daily_logical_date(d + dt.timedelta(days=1))}
                  for d in DAYS]
        retrain = {"dag_id": "retrain", "conf": {"reason": "e2e test", "as_of": as_of.isoformat()}}
        dry = {**retrain, "conf": {**retrain["conf"], "reason": "e2e test, dry run", "dry_run": True}}
        runs = dag_tests(env, [*steps, retrain, dry])
        wait_for(mailbox, 2)
        strict = {**retrain, "conf": {**retrain["conf"], "reason": "e2e test, strict gate"}}   # a new request
        runs += dag_tests({**env, "RAILCAST_PARAMS": str(strict_file)}, [strict])
        wait_for(mailbox, 3)
    finally:
        mailbox.server.stop()
    assert [r["state"] for r in runs] == ["success"] * (len(steps) + 3), runs
    for run in runs[-3:]:
        assert run["tasks"] == {**dict.fromkeys(("train", "evaluate", "approval_needed", "promote", "notify"),
                                                "success"), "approve": "skipped"}, "approval is off"
    built = sorted(p.name for p in layout.dataset("features").glob("*.parquet"))
    assert built == [f"{d}.parquet" for d in DAYS]

    monkeypatch.setenv("RAILCAST_HOME", str(layout.root))  # read the test's MLflow store
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    audit = [e for e in history.read_audit(layout) if e["alias"] == tracking.CHAMPION]
    assert [(e["action"], e["to"]) for e in audit] == [("move", "1"), ("refused", "3")], audit
    assert tracking.get_alias(layout, tracking.CHAMPION) == "1", "a refused challenger leaves the champion"
    assert [m["Subject"].removeprefix("[railcast] ") for m in mailbox.messages] == [
        "model version 1 promoted to champion", "dry run: model version 2 would not be promoted",
        "model version 3 not promoted"]
    assert (layout.dataset("reports") / "gate" / "decision-v2-dry.json").exists()
    assert all(e["to"] != "2" for e in history.read_audit(layout)), "a dry run moves no alias at all"
    refused = mailbox.messages[2].get_payload(decode=True).decode()
    assert "persistence" in refused and "Decision record:" in refused, refused
    assert all(m["Message-ID"].endswith("@railcast.local>") for m in mailbox.messages)


def test_a_task_airflow_fails_sends_the_failure_email(tmp_path, tmp_path_factory):
    """Failure emails through a task Airflow itself fails (before: only the callback with a hand-made
    context was tested). The poller is down all of DOWN: the daily ingest run finds no raw data, and
    build_dataset's `check_ingested` fails past the deadline; Airflow's on_failure_callback sends the
    email naming the date and the fix. Retries are off: `dag.test()` would wait out their backoff."""
    from pipelines.runtime import orchestration

    params_file, params, layout = small_params(tmp_path)
    down = FIRST + dt.timedelta(days=1)
    mailbox = Mailbox()
    mailbox.server.start()
    try:
        env = airflow_test_env(layout, params_file, mailbox)
        migrated(env, tmp_path_factory.getbasetemp() / "airflow-db-template")
        check_at = orchestration.ingest_deadline(params, down)
        build_day = check_at.date()   # the build run whose interval ends the Berlin midnight after this day
        steps = [{"dag_id": "ingest", "logical_date": daily_logical_date(day), "conf": {"source": source}}
                 for day, source in ((FIRST, "simulator"), (down, "raw"))]   # raw: no poll came that day
        steps += [{"dag_id": "build_dataset", "logical_date": daily_logical_date(build_day), "retries": 0}]
        runs = dag_tests(env, steps)
        deadline = time.monotonic() + 10
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        mailbox.server.stop()
    assert [r["state"] for r in runs] == ["success", "success", "failed"], runs
    assert runs[-1]["tasks"]["check_ingested"] == "failed", runs[-1]
    assert len(mailbox.messages) == 1, [m["Subject"] for m in mailbox.messages]
    mail = mailbox.messages[0]
    assert mail["Subject"] == "[railcast] task failed: build_dataset.check_ingested"
    body = mail.get_payload(decode=True).decode()
    lost = len(service_date_hours(params, down))   # all of its own day and its early-morning tail
    assert f"{FIRST}: " in body and f"{down}: {lost} hour(s) never ingested" in body, body
    assert "--record-gaps" in body and "StageError" in body
