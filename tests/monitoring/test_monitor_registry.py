"""The monitor against a real MLflow SQLite registry: champion, reference, results logged to its run."""

from __future__ import annotations

import pytest

from pipelines.datasets import close_time
from pipelines.errors import StageError
from pipelines.modeling import score, train
from pipelines.monitoring import monitor
from pipelines.registry import tracking
from tests.small_training import day, promote_passed, small_training, synthetic_store

pytestmark = pytest.mark.integration

SMALL = small_training(3, 2, 30, early_stop=5)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Three days of features; bootstrap verdict on day 3, champion trained and promoted at its close."""
    with synthetic_store(tmp_path_factory, "monitor-registry", SMALL, 4, 600) as (params, layout, as_of):
        before = monitor.run(params, layout, day(3))
        version = train.run(params, layout, close_time(params, day(3)), {"kind": "bootstrap"})["version"]
        moved = promote_passed(params, layout, version, None, close_time(params, day(3)))
        assert moved["moved"] and as_of == close_time(params, day(4))
        score.run(params, layout, day(4))
        yield params, layout, version, before, monitor.run(params, layout, day(4))


def test_bootstrap_before_the_first_champion(registry):
    _, _, _, before, _ = registry
    assert before["verdict"] == "retrain" and before["reason"].startswith("bootstrap")
    assert before["evidence"]["champion"] is None


def test_champion_reference_and_skill_from_the_registry(registry):
    _, _, version, _, result = registry
    evidence = result["evidence"]
    assert evidence["champion"] == version
    assert result["verdict"] in ("no_drift", "drift", "deferred", "retrain")
    assert evidence["rows"]["reference"] > 0 and evidence["prediction"]["method"] == "wasserstein"
    assert evidence["skill"]["holdout"]["skill"] is not None and evidence["skill"]["current"]["n"] > 0


def test_record_and_report_logged_to_the_champion_run(registry):
    _, layout, version, _, _ = registry
    run_id = tracking.version_info(layout, version)["run_id"]
    logged = {a.path for a in tracking.client(layout).list_artifacts(run_id, f"monitoring/{day(4)}")}
    assert logged == {f"monitoring/{day(4)}/decision.json", f"monitoring/{day(4)}/report.html"}
    assert "monitor_drift_share" in tracking.run_info(layout, run_id)["metrics"]


def test_drift_retrain_refuses_a_holdout_before_the_event(registry):
    params, layout, _, _, _ = registry
    trigger = {"kind": "drift", "evidence": {str(day(4)): {"event_start": day(4).isoformat()}}}
    with pytest.raises(StageError, match="before the drift event"):
        train.run(params, layout, close_time(params, day(3)), trigger)
