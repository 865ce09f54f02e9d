"""A three-day backfill through the DAGs, run twice, leaves byte-identical partitions.

The DAGs run through `dag.test()` (Airflow's in-process runner with a real metadata DB), one logical date
at a time, the way `airflow backfill create` would queue them: `ingest` generates each Berlin day with
the simulator's bulk path (conf `source: simulator`), `build_dataset` builds each closed service date.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from pipelines.storage import Layout
from tests.airflow_helpers import (
    Mailbox,
    airflow_test_env,
    dag_tests,
    daily_logical_date,
    migrated,
    small_params,
)

pytestmark = [pytest.mark.dags, pytest.mark.slow]
DATASETS = ("snapshots", "polls", "departures", "features", "labels")
FIRST = dt.date(2025, 9, 8)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(3)]


def fingerprint(layout: Layout) -> dict[str, tuple[str, int]]:
    """{relative path: (sha256, inode)} of every partition of DATASETS."""
    out = {}
    for name in DATASETS:
        for path in sorted(layout.dataset(name).glob("*.parquet")):
            out[f"{name}/{path.name}"] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_ino)
    return out


def backfill_steps() -> list[dict]:
    """ingest for the three days and the morning after (a service date runs past midnight), then build."""
    ingest = [{"dag_id": "ingest", "logical_date": daily_logical_date(d), "conf": {"source": "simulator"}}
              for d in [*DAYS, DAYS[-1] + dt.timedelta(days=1)]]
    build = [{"dag_id": "build_dataset", "logical_date": daily_logical_date(d + dt.timedelta(days=1))}
             for d in DAYS]
    return ingest + build


def test_a_three_day_backfill_run_twice_leaves_identical_partitions(tmp_path, tmp_path_factory):
    params_file, _, layout = small_params(tmp_path)
    env = airflow_test_env(layout, params_file, Mailbox())  # never started: no alert may need it
    migrated(env, tmp_path_factory.getbasetemp() / "airflow-db-template")
    first = dag_tests(env, backfill_steps())
    assert [r["state"] for r in first] == ["success"] * 7, first
    assert first[0]["tasks"] == {"simulate": "success", "ingest": "success"}
    before = fingerprint(layout)
    for name in ("departures", "features", "labels"):
        assert sorted(p for p in before if p.startswith(name)) == [f"{name}/{d}.parquet" for d in DAYS]
    assert len([p for p in before if p.startswith("snapshots/")]) == 4 * 24

    again = dag_tests(env, backfill_steps())
    assert [r["state"] for r in again] == ["success"] * 7, again
    after = fingerprint(layout)
    assert {p: h for p, (h, _) in after.items()} == {p: h for p, (h, _) in before.items()}
    rewritten = [p for p in after if after[p][1] != before[p][1]]
    assert all(p in rewritten for p in after if not p.startswith("labels/")), "the re-run rewrote them"
    assert not [p for p in rewritten if p.startswith("labels/")], "labels are append-only"
