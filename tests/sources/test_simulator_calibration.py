"""Simulated delays match the real statistics of docs/RAIL_FACTS.md section 3 (28 days, 3 seeds)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipelines.config import load_params
from pipelines.sources.simulator import calibration
from pipelines.sources.simulator.network import build_network
from pipelines.sources.simulator.truth import simulate_day

pytestmark = pytest.mark.data

SEEDS = (1, 2, 3)
DAYS = 28


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    network = build_network()
    frames = []
    for seed in SEEDS:
        params = load_params(overrides={"simulation.seed": seed})
        start = params.simulation.start_date
        frames += [simulate_day(network, params, start + dt.timedelta(days=d)) for d in range(DAYS)]
    return pd.concat(frames, ignore_index=True)


def test_delay_bins_within_5_points_of_domain(truth: pd.DataFrame) -> None:
    errors = calibration.bin_errors(truth)
    assert set(errors.index) == set(calibration.TARGET_BINS)
    assert errors.abs().max().max() <= 5.0, errors.round(1)


def test_cancellation_rates_in_ranges(truth: pd.DataFrame) -> None:
    rates = calibration.cancellation_rates(truth)
    for cls, (low, high) in calibration.TARGET_CANCEL.items():
        assert low <= rates[cls] <= high, (cls, rates[cls])


def test_delay_grows_along_the_route(truth: pd.DataFrame) -> None:
    growth = calibration.growth_per_hour(truth)
    for cls, (low, high) in calibration.TARGET_GROWTH.items():
        assert low <= growth[cls] <= high, (cls, growth[cls])
    assert growth["S"] < growth["ICE"]


def test_daily_cycle_of_long_distance_delays(truth: pd.DataFrame) -> None:
    hourly = calibration.hourly_means(truth)
    early = hourly.loc[[5, 6]].mean()
    assert 2.0 <= early <= 5.0, hourly.round(1)
    assert 9.0 <= hourly.loc[15] <= 15.0, hourly.round(1)
    assert 20.0 <= hourly.loc[23] <= 30.0, hourly.round(1)


def test_weekday_cycle(truth: pd.DataFrame) -> None:
    by_day = calibration.weekday_means(truth)
    assert by_day.loc[4] > by_day.loc[[1, 2]].mean() * 1.05          # Friday is worse
    assert by_day.loc[[5, 6]].mean() < by_day.loc[[0, 1, 2, 3]].mean() * 0.9   # weekends are calmer


def test_summary_is_json_ready(truth: pd.DataFrame) -> None:
    import json
    report = calibration.summary(truth.head(20000))
    assert json.loads(json.dumps(report))["max_bin_error_pp"] >= 0
