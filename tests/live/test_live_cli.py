"""`railcast live` and `railcast serve` as real processes on loopback over the `world` archive and stream."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines import schema as s
from pipelines.config import PROJECT_ROOT
from pipelines.serving import stream
from pipelines.sources.dbf.archive import read_raw_hour
from pipelines.timeutil import hours_between
from tests.airflow_helpers import free_port
from tests.live.conftest import DAY, END, START
from tests.serving.helpers import call, serving

pytestmark = pytest.mark.integration


def railcast(*args: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "pipelines", *args], cwd=PROJECT_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def scrape(port: int) -> dict[str, float]:
    """Unlabelled samples of a /metrics page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {name: float(value) for line in text.splitlines() if line and not line.startswith("#")
            for name, _, value in [line.rpartition(" ")] if "{" not in name}


def families(text: str) -> set[str]:
    """Series names a /metrics page declares (labelled ones too, before their first sample)."""
    kinds = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
    suffixes = {"histogram": ["_bucket", "_sum", "_count"]}
    return {name + end for name, kind in kinds.items() for end in suffixes.get(kind, [""])}


def test_a_restarted_scorer_decides_nothing_twice_and_exports_its_metrics(world, tmp_path) -> None:
    layout = world["layout"]
    attempts = sum(len(read_raw_hour(layout.dataset("raw"), h).lines)
                   for h in hours_between(START, END + dt.timedelta(hours=1)))
    files_before = sorted(stream.day_folder(layout, DAY).glob("*.parquet"))
    port, log = free_port(), tmp_path / "live.log"
    proc = railcast("live", "--home", str(layout.root), "--metrics-port", str(port), "--interval-s", "0.5",
                    "--duration-s", "60", log=log)
    try:
        deadline, seen = time.monotonic() + 50, {}
        while seen.get("railcast_live_polls_total") != attempts:
            assert proc.poll() is None and time.monotonic() < deadline, (seen, log.read_text()[-3000:])
            time.sleep(0.5)
            try:
                seen = scrape(port)
            except OSError:
                continue
        assert seen["railcast_live_clock_timestamp_seconds"] >= (END - dt.timedelta(minutes=3)).timestamp()
        assert 0 < seen["railcast_live_lag_seconds"] < 900 and seen["railcast_live_champion_version"] == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            declared = families(response.read().decode())
        board = json.loads((PROJECT_ROOT / "docker" / "grafana" / "dashboards" / "railcast.json").read_text())
        live_queries = [t["expr"] for panel in board["panels"] for t in panel["targets"]
                        if "railcast_live_" in t["expr"]]
        assert len(live_queries) >= 6
        for query in live_queries:   # every live panel of the dashboard reads a series this process has
            used = set(re.findall(r"\brailcast_live_[a-z_]+\b", query))
            assert used <= declared, (query, sorted(used - declared))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    summary = json.loads(log.read_text()[log.read_text().index("{"):])
    assert proc.returncode == 0 and summary["polls"] == attempts and "published" not in summary
    assert sorted(stream.day_folder(layout, DAY).glob("*.parquet")) == files_before


def test_the_api_serves_the_latest_live_predictions(world, tmp_path) -> None:
    layout = world["layout"]
    with serving(layout.root, tmp_path / "serve.log") as (base, _):
        expected = stream.latest(stream.read_day(layout, DAY)).to_pandas()
        expected = expected[(expected[s.ROLE] == "champion") & (expected[s.STATION] == "Dortmund Hbf")]
        status, body = call(base, "/v1/predictions?station=Dortmund%20Hbf&limit=5")   # newest date
        assert status == 200 and body["service_date"] == DAY.isoformat() and body["count"] == len(expected)
        newest = expected.sort_values([s.DECIDED_AT, s.DEPARTURE_ID], ascending=[False, True]).head(5)
        assert [p[s.DEPARTURE_ID] for p in body["predictions"]] == list(newest[s.DEPARTURE_ID])
        assert [p[s.PREDICTION] for p in body["predictions"]] == list(newest[s.PREDICTION])
        some = body["predictions"][0]
        status, body = call(base, f"/v1/predictions?date={DAY}&train={some[s.TRAIN_NUMBER]}&role=shadow")
        assert status == 200 and {p[s.MODEL_VERSION] for p in body["predictions"]} == {"2"}
        assert some[s.DEPARTURE_ID] in {p[s.DEPARTURE_ID] for p in body["predictions"]}
        assert call(base, "/v1/predictions?date=yesterday")[1]["field"] == "date"
        assert call(base, "/v1/predictions?limit=0")[0] == 422
        assert call(base, "/v1/predictions?date=2024-01-01")[1]["predictions"] == []
