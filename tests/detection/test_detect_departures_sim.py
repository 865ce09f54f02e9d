"""detect_departures on a simulated service date (the real simulator bulk path): accuracy targets."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines import datasets
from pipelines.config import Params
from pipelines.detection import detect_departures
from pipelines.sources import simulate
from pipelines.storage import Layout, read_json, write_json
from pipelines.timeutil import local_midnight_utc

pytestmark = pytest.mark.integration


@pytest.fixture()
def simulated_day(params: Params, layout: Layout) -> dt.date:
    """One stationary service date with the default fault profile (5% failed polls, +-30 s jitter)."""
    day = params.simulation.start_date + dt.timedelta(days=1)
    simulate.run(params, layout, local_midnight_utc(day), datasets.close_time(params, day), faults=True)
    # validate_snapshots has its own tests; here its verdict is written directly to keep this test fast
    write_json({"verdict": "passed"}, layout.dataset("ledger") / "validate_snapshots" / f"{day}.json")
    return day


def test_targets_on_a_simulated_day(params: Params, layout: Layout, simulated_day: dt.date) -> None:
    result = detect_departures.run(params, layout, simulated_day)
    metrics = read_json(result["metrics"])
    assert metrics["n_true_departures"] > 1000
    assert metrics["departure_error_p95_min"] <= 3.0
    assert abs(metrics["departure_error_median_signed_min"]) <= 1.0
    assert metrics["found_share"] >= 0.99
    assert metrics["n_detected_not_in_truth"] == 0
    assert metrics["n_cancelled_flagged"] == metrics["n_true_cancelled"]
