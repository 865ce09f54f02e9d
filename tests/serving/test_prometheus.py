"""docker/'s monitoring files against the running API: every Grafana panel queries metrics the API
exports, and a real Prometheus (Debian's `prometheus`) with docker/prometheus.yml scrapes it and
answers a query about it through its HTTP API."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse

import pytest
import yaml

from pipelines.config import PROJECT_ROOT
from pipelines.registry import integrity
from tests.airflow_helpers import free_port
from tests.services import unavailable
from tests.serving.helpers import call, feature_rows

pytestmark = pytest.mark.e2e
DOCKER = PROJECT_ROOT / "docker"


def exported(metrics_text: str) -> set[str]:
    """Series names in a /metrics answer (histograms give _bucket, _sum and _count)."""
    return {line.split("{")[0].split(" ")[0] for line in metrics_text.splitlines()
            if line and not line.startswith("#")}


def test_every_dashboard_panel_queries_metrics_the_api_exports(served):
    board = json.loads((DOCKER / "grafana" / "dashboards" / "railcast.json").read_text())
    base, layout = served["base"], served["layout"]
    features = tuple(integrity.load_version(layout, "1").booster.feature_name())
    assert call(base, "/v1/predict", {"rows": feature_rows(layout, features, 1)})[0] == 200  # labelled
    names = exported(call(base, "/metrics")[1])  # series appear with their first sample
    queries = [t["expr"] for panel in board["panels"] for t in panel["targets"]
               if "railcast_live_" not in t["expr"]]   # the live scorer's panels: tests/live/test_live_cli.py
    assert len(queries) >= 8
    for query in queries:
        used = set(re.findall(r"\brailcast_[a-z_]+\b", query))
        assert used and used <= names, (query, sorted(used - names))
    provisioned = DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
    source = yaml.safe_load(provisioned.read_text())
    uid = source["datasources"][0]["uid"]
    assert {p["datasource"]["uid"] for p in board["panels"]} == {uid}, "panels use the provisioned source"


def test_prometheus_scrapes_the_api_with_the_shipped_config(served, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        unavailable("Prometheus (Debian package `prometheus`; `make tools` installs it)", "not on PATH")
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "railcast-serve")
    config["scrape_configs"] = [job]   # no live scorer runs here (tests/live checks its metrics)
    job["static_configs"] = [{"targets": [served["base"].removeprefix("http://")]}]  # compose: service name
    config["global"]["scrape_interval"] = "1s"
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    query = urllib.parse.quote('railcast_champion_version{job="railcast-serve"}')
    try:
        deadline, found = time.monotonic() + 60, []
        while not found:
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(1)
            try:
                found = call(f"http://127.0.0.1:{port}", f"/api/v1/query?query={query}")[1]["data"]["result"]
            except (OSError, KeyError, TypeError):
                found = []
        served_version = call(served["base"], "/healthz")[1]["model_version"]
        assert float(found[0]["value"][1]) == float(served_version)
        targets = call(f"http://127.0.0.1:{port}", "/api/v1/targets")[1]["data"]["activeTargets"]
        assert [t["health"] for t in targets] == ["up"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
