"""End to end through the DAGs on a small simulated scenario: ingest -> build_dataset -> retrain.

Real components: Airflow's `dag.test()` runner with a migrated metadata DB, the simulator's bulk path,
Great Expectations, DuckDB, LightGBM, an MLflow SQLite store in the test's directory, and an SMTP server
on loopback that must receive the retrain decision (promoted, or refused with its reason).
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from pipelines.datasets import close_time
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


def test_build_dataset_then_retrain_emails_the_decision(tmp_path, tmp_path_factory, monkeypatch):
    params_file, params, layout = small_params(tmp_path, train=TRAIN)
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
        steps.append({"dag_id": "retrain", "conf": {"reason": "e2e test", "as_of": as_of.isoformat()}})
        runs = dag_tests(env, steps)
        deadline = time.monotonic() + 10
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        mailbox.server.stop()
    assert [r["state"] for r in runs] == ["success"] * len(steps), runs
    assert runs[-1]["tasks"] == dict.fromkeys(("train", "evaluate", "promote", "notify"), "success")
    built = sorted(p.name for p in layout.dataset("features").glob("*.parquet"))
    assert built == [f"{d}.parquet" for d in DAYS]

    monkeypatch.setenv("RAILCAST_HOME", str(layout.root))  # read the test's MLflow store
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    audit = [e for e in history.read_audit(layout) if e["alias"] == tracking.CHAMPION]
    assert [e["action"] for e in audit] in (["move"], ["refused"]), audit
    promoted = audit[0]["action"] == "move"
    assert tracking.get_alias(layout, tracking.CHAMPION) == ("1" if promoted else None)
    assert len(mailbox.messages) == 1, "one decision, one email"
    mail = mailbox.messages[0]
    verdict = "promoted to champion" if promoted else "not promoted"
    assert mail["Subject"] == f"[railcast] model version 1 {verdict}"
    assert "e2e" not in mail["Subject"] and "Decision record:" in mail.get_payload()
    assert mail["Message-ID"].endswith("@railcast.local>")
