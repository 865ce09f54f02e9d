"""`railcast serve` as a real server process on loopback over a real (embedded) MLflow registry: the
predictions are the model's, explanations add up, bad input is a 4xx naming the field, the metrics are
Prometheus text, and a promotion during a request loop switches the version with no failed request."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import PROJECT_ROOT, load_params
from pipelines.modeling import train
from pipelines.registry import tracking
from tests.airflow_helpers import free_port
from tests.small_training import day, promote_passed, small_training, synthetic_store

pytestmark = pytest.mark.e2e
SMALL = small_training(4, 3, 60)


def call(base: str, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, dict | str]:
    """One HTTP call; (status, JSON body or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def feature_rows(layout, features: tuple[str, ...], n: int) -> list[dict]:
    """`n` rows of a real features partition as JSON objects (NaN as null)."""
    frame = pd.read_parquet(layout.day_file("features", day(5)), columns=list(features)).head(n)
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict("records")]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two versions (1 weak, 2 full), 1 promoted; `railcast serve` checking the alias every second."""
    with synthetic_store(tmp_path_factory, "serve", SMALL, 5, 600) as (params, layout, as_of):
        weak = load_params(overrides={**SMALL, "train.num_boost_round": 8})
        train.run(weak, layout, as_of, {"kind": "bootstrap"})
        train.run(params, layout, as_of, {"kind": "manual", "reason": "second"})
        promote_passed(params, layout, "1", None, as_of)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        log = Path(layout.root) / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "pipelines", "serve", "--home", str(layout.root),
                                     "--port", str(port), "--reload-seconds", "1"],
                                    cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while call_quietly(base) != 200:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
            yield {"base": base, "params": params, "layout": layout, "as_of": as_of, "proc": proc, "log": log}
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def call_quietly(base: str) -> int | None:
    try:
        return call(base, "/healthz")[0]
    except OSError:
        return None


def test_predictions_are_the_champions_and_explanations_add_up(served):
    base, layout = served["base"], served["layout"]
    status, health = call(base, "/healthz")
    assert status == 200 and health["model_version"] == "1"
    assert health["sha256"] == tracking.version_info(layout, "1")["tags"][tracking.SHA_TAG]
    model = tracking.load_version(layout, "1")
    features = tuple(model.booster.feature_name())
    rows = feature_rows(layout, features, 20)
    status, answer = call(base, "/v1/predict?explain=true", {"rows": rows})
    assert status == 200, answer
    expected = model.predict(pd.DataFrame(rows))
    assert answer["model_version"] == "1" and len(answer["predictions"]) == 20
    assert max(abs(a - b) for a, b in zip(answer["predictions"], expected, strict=True)) < 1e-3
    for parts, value in zip(answer["contributions"], answer["predictions"], strict=True):
        assert set(parts) == {*features, "bias"} and abs(sum(parts.values()) - value) < 1e-3
    metrics = call(base, "/metrics")[1]
    assert 'railcast_predictions_total{model_version="1"} 20.0' in metrics
    assert 'railcast_http_requests_total{method="POST",route="/v1/predict",status="200"}' in metrics
    assert 'railcast_champion_version 1.0' in metrics


@pytest.mark.parametrize(("change", "status", "field"), [
    (lambda r: r.pop("delay_at_pred"), 422, "rows[0].delay_at_pred"),
    (lambda r: r.update(delay_at_pred="late"), 422, "rows[0].delay_at_pred"),
    (lambda r: r.update(delay_at_pred=True), 422, "rows[0].delay_at_pred"),
    (lambda r: r.update(station=7), 422, "rows[0].station"),
    (lambda r: r.update(surprise=1), 422, "rows[0].surprise"),
])
def test_a_bad_field_is_a_422_that_names_it(served, change, status, field):
    features = tracking.load_version(served["layout"], "1").booster.feature_name()
    row = feature_rows(served["layout"], tuple(features), 1)[0]
    change(row)
    got, answer = call(served["base"], "/v1/predict", {"rows": [row]})
    assert (got, answer["field"]) == (status, field) and field.split(".")[-1] in answer["error"]


def test_malformed_and_oversized_requests_are_refused_and_the_server_carries_on(served):
    base, params = served["base"], served["params"]
    assert call(base, "/v1/predict", raw=b"{not json")[0] == 400
    assert call(base, "/v1/predict", {"rows": []})[0] == 422
    assert call(base, "/v1/predict", {"rows": [{}] * (params.serve.max_rows + 1)})[0] == 413
    assert call(base, "/v1/predict", raw=b" " * (params.serve.max_body_bytes + 1))[0] == 413
    assert call(base, "/healthz")[0] == 200 and served["proc"].poll() is None


def test_it_listens_on_loopback_only(served):
    pid = served["proc"].pid
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    ours = [line.split()[3] for line in listening.splitlines() if f"pid={pid}," in line]
    assert ours and all(a.startswith("127.0.0.1:") for a in ours), ours


def test_a_promotion_during_a_request_loop_switches_without_a_failed_request(served):
    base, layout = served["base"], served["layout"]
    features = tuple(tracking.load_version(layout, "1").booster.feature_name())
    body = {"rows": feature_rows(layout, features, 1)}
    seen: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            status, answer = call(base, "/v1/predict", body)
            seen.append((status, answer.get("model_version") if isinstance(answer, dict) else None))

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        time.sleep(1)
        promote_passed(served["params"], layout, "2", "1", served["as_of"])
        deadline = time.monotonic() + 30
        while not seen or seen[-1][1] != "2":
            assert time.monotonic() < deadline, f"still serving {seen[-1] if seen else None} after 30 s"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join()
    assert len(seen) > 10 and {status for status, _ in seen} == {200}, "no request failed in the switch"
    versions = [v for _, v in seen]
    switch = versions.index("2")
    assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {"2"}, "one switch, no flapping"
    metrics = call(base, "/metrics")[1]
    assert "railcast_champion_version 2.0" in metrics
    assert 'railcast_model_reloads_total{outcome="loaded"} 2.0' in metrics


def test_a_version_whose_file_does_not_match_its_hash_is_not_served(served):
    base, layout = served["base"], served["layout"]
    current = call(base, "/healthz")[1]["model_version"]
    other = "1" if current == "2" else "2"
    true_hash = tracking.version_info(layout, other)["tags"][tracking.SHA_TAG]
    tracking.set_version_tags(layout, other, {tracking.SHA_TAG: "0" * 64})
    try:
        tracking.set_alias(layout, tracking.CHAMPION, other)  # bypassing promote, which would refuse too
        deadline = time.monotonic() + 15
        while 'railcast_model_reloads_total{outcome="refused"}' not in call(base, "/metrics")[1]:
            assert time.monotonic() < deadline, "the tampered version was never refused"
            time.sleep(0.3)
        assert call(base, "/healthz")[1]["model_version"] == current, "the verified version stays"
    finally:
        tracking.set_version_tags(layout, other, {tracking.SHA_TAG: true_hash})
        tracking.set_alias(layout, tracking.CHAMPION, current)
