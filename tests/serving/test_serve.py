"""`railcast serve` as a real server process on loopback over a real (embedded) MLflow registry: the
predictions are the model's, explanations add up, bad input is a 4xx naming the field, the metrics are
Prometheus text, and a promotion during a request loop switches the version with no failed request."""

from __future__ import annotations

import http.client
import subprocess
import threading
import time

import pandas as pd
import pytest

from pipelines.registry import integrity, tracking
from tests.serving.helpers import call, feature_rows, metric
from tests.small_training import promote_passed

pytestmark = pytest.mark.e2e


def test_predictions_are_the_champions_and_explanations_add_up(served):
    base, layout = served["base"], served["layout"]
    status, health = call(base, "/healthz")
    assert status == 200 and health["model_version"] == "1"
    assert health["sha256"] == tracking.version_info(layout, "1")["tags"][tracking.SHA_TAG]
    model = integrity.load_version(layout, "1")
    features = tuple(model.booster.feature_name())
    rows = feature_rows(layout, features, 20)
    # the corners of the encoding: a value the model never saw, a null category, a null number
    rows[0] = {**rows[0], "station": "Nowhere Hbf", "reason_code": None, "delay_trend": None}
    predicted = metric(base, 'railcast_predictions_total{model_version="1"}')
    status, answer = call(base, "/v1/predict?explain=true", {"rows": rows})
    assert status == 200, answer
    expected = model.predict(pd.DataFrame(rows))  # the batch path: pandas frame, Arrow lookups
    assert answer["model_version"] == "1" and answer["predictions"] == [float(v) for v in expected]
    for parts, value in zip(answer["contributions"], answer["predictions"], strict=True):
        assert set(parts) == {*features, "bias"} and abs(sum(parts.values()) - value) < 1e-3
    metrics = call(base, "/metrics")[1]
    assert metric(base, 'railcast_predictions_total{model_version="1"}') == predicted + 20
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
    features = integrity.load_version(served["layout"], "1").booster.feature_name()
    row = feature_rows(served["layout"], tuple(features), 1)[0]
    change(row)
    got, answer = call(served["base"], "/v1/predict", {"rows": [row]})
    assert (got, answer["field"]) == (status, field) and field.split(".")[-1] in answer["error"]


def test_malformed_and_oversized_requests_are_refused_and_the_server_carries_on(served):
    base, params = served["base"], served["params"]
    assert call(base, "/v1/predict", raw=b"{not json")[0] == 400
    assert call(base, "/v1/predict", {"rows": []})[0] == 422
    assert call(base, "/v1/predict", {"rows": [{}] * (params.serve.max_rows + 1)})[0] == 413
    # a body declared too large is refused from its headers alone: the client never has to send it
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    conn.putrequest("POST", "/v1/predict")
    conn.putheader("Content-Length", str(params.serve.max_body_bytes + 1))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    assert call(base, "/healthz")[0] == 200 and served["proc"].poll() is None


def test_it_listens_on_loopback_only(served):
    pid = served["proc"].pid
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    ours = [line.split()[3] for line in listening.splitlines() if f"pid={pid}," in line]
    assert ours and all(a.startswith("127.0.0.1:") for a in ours), ours


def test_a_promotion_during_a_request_loop_switches_without_a_failed_request(served):
    base, layout = served["base"], served["layout"]
    features = tuple(integrity.load_version(layout, "1").booster.feature_name())
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
