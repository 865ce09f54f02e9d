"""Each staged scenario shows in the ground truth at its intended size, and only where intended."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.config import ConfigError, Params, Scenario, load_params, scenario
from pipelines.sources.simulator.network import Network, build_network
from pipelines.sources.simulator.truth import day_number, simulate_day

pytestmark = pytest.mark.unit

PARAMS = load_params()
LONG_DISTANCE = ["ICE", "IC"]


@pytest.fixture(scope="module")
def network() -> Network:
    return build_network()


def day(n: int) -> dt.date:
    return PARAMS.simulation.start_date + dt.timedelta(days=n - 1)


def pair(network: Network, name: str, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stationary, scenario) truth of calendar day n: same dice, so differences are the scenario's."""
    chosen = scenario(PARAMS, name)
    return simulate_day(network, PARAMS, day(n)), simulate_day(network, PARAMS, day(n), chosen)


def arrival_delay(truth: pd.DataFrame) -> pd.Series:
    return (truth[s.TRUE_ARRIVAL] - truth[s.SCHEDULED_ARRIVAL]).dt.total_seconds() / 60.0


def has_code(truth: pd.DataFrame, codes: str) -> pd.Series:
    return truth[s.REASON_CODES].str.split(",").apply(lambda c: bool(set(c) & set(codes.split("|"))))


def test_day_numbers_are_one_based(params: Params) -> None:
    assert day_number(params, day(1)) == 1 and day_number(params, day(15)) == 15


def test_stationary_equals_no_scenario(network: Network) -> None:
    base, stationary = pair(network, "stationary", 5)
    pd.testing.assert_frame_equal(base, stationary)


def test_construction_adds_delay_on_one_corridor_only(network: Network) -> None:
    sc = scenario(PARAMS, "construction")
    base, built = pair(network, "construction", sc.start_day + 1)
    hit, base_hit = (t[s.CORRIDOR].isin(sc.scope) for t in (built, base))
    assert 0 < hit.mean() <= 0.10                       # at most 10% of departures affected
    extra = arrival_delay(built[hit]).mean() - arrival_delay(base[base_hit]).mean()
    assert 0.8 * sc.size <= extra <= 1.2 * sc.size
    assert abs(arrival_delay(built[~hit]).mean() - arrival_delay(base[~base_hit]).mean()) < 0.5
    assert has_code(built[hit], "31|58").all()
    assert has_code(built[~hit], "31|58").mean() < 0.1     # only the base rate elsewhere
    assert built.loc[hit, s.STOP_CANCELLED].mean() > base.loc[base_hit, s.STOP_CANCELLED].mean() + 0.05
    assert built.loc[hit, s.IS_ADDITIONAL].sum() > 5 * max(base.loc[base_hit, s.IS_ADDITIONAL].sum(), 1)
    before, _ = pair(network, "construction", sc.start_day - 1)
    pd.testing.assert_frame_equal(before, simulate_day(network, PARAMS, day(sc.start_day - 1), sc))


def test_strike_cancels_most_long_distance_trains(network: Network) -> None:
    sc = scenario(PARAMS, "strike")
    base, struck = pair(network, "strike", sc.start_day)
    runs = struck.drop_duplicates(s.RUN_ID)
    fv = runs[s.CATEGORY].isin(sc.scope)
    assert abs(runs.loc[fv, s.RUN_CANCELLED].mean() - sc.size) < 0.1
    assert runs.loc[~fv, s.RUN_CANCELLED].mean() < 0.1
    running = struck[struck[s.CATEGORY].isin(sc.scope) & ~struck[s.STOP_CANCELLED]]
    assert arrival_delay(running).mean() < 4.0                 # the rest run near on time
    assert has_code(struck[struck[s.CATEGORY].isin(sc.scope)], "52").all()
    after = simulate_day(network, PARAMS, day(sc.end_day + 1), sc)
    assert after.drop_duplicates(s.RUN_ID)[s.RUN_CANCELLED].mean() < 0.1


def test_storm_cancels_in_region_then_heavier_tail(network: Network) -> None:
    sc = scenario(PARAMS, "storm")
    north = set(network.stations.loc[network.stations["region"].isin(sc.scope), "name"])
    base, storm = pair(network, "storm", sc.start_day)
    in_region = storm[s.STATION].isin(north)
    assert storm.loc[in_region, s.STOP_CANCELLED].mean() >= 0.6 * sc.size
    assert storm.loc[~in_region & ~storm[s.CATEGORY].isin(LONG_DISTANCE), s.STOP_CANCELLED].mean() < 0.08
    assert has_code(storm[in_region], "11").mean() > 0.3
    base_after, after = pair(network, "storm", sc.end_day + 1)
    region_after = after[s.STATION].isin(north)
    tail, base_tail = (arrival_delay(t[region_after]).quantile(0.9) for t in (after, base_after))
    assert tail > 1.3 * base_tail
    assert has_code(after[region_after], "18").mean() > 0.3
    late, late_storm = pair(network, "storm", sc.end_day + 5)
    pd.testing.assert_frame_equal(late, late_storm)


def test_timetable_change_renumbers_shifts_and_adds_a_line(network: Network) -> None:
    sc = scenario(PARAMS, "timetable_change")
    old = simulate_day(network, PARAMS, day(sc.start_day - 1), sc)
    new = simulate_day(network, PARAMS, day(sc.start_day), sc)
    assert not set(old[s.TRAIN_NUMBER]) & set(new[s.TRAIN_NUMBER])
    assert set(new[s.LINE]) - set(old[s.LINE])            # at least one new line
    assert new.drop_duplicates(s.RUN_ID)[s.TRAIN_NUMBER].is_unique

    def plan(truth: pd.DataFrame) -> set[tuple[str, str, str]]:
        dep = truth.dropna(subset=[s.SCHEDULED_DEPARTURE])
        clock = dep[s.SCHEDULED_DEPARTURE].dt.tz_convert(s.TZ_LOCAL).dt.strftime("%H:%M")
        return set(zip(dep[s.LINE], dep[s.STATION], clock, strict=True))
    shared_lines = set(old[s.LINE]) & set(new[s.LINE])
    kept = {p for p in plan(new) if p[0] in shared_lines} & plan(old)
    assert len(kept) < 0.1 * len(plan(new))                 # times shifted on (nearly) every line


def test_seasonal_trend_worsens_slowly(network: Network) -> None:
    sc = scenario(PARAMS, "seasonal_trend")
    first_base, first = pair(network, "seasonal_trend", 1)
    pd.testing.assert_frame_equal(first_base, first)
    last_base, last = pair(network, "seasonal_trend", PARAMS.simulation.days)
    ratio = arrival_delay(last).mean() / arrival_delay(last_base).mean()
    assert 1 + 0.7 * sc.size <= ratio <= 1 + 1.3 * sc.size
    mid_base, mid = pair(network, "seasonal_trend", PARAMS.simulation.days // 2)
    mid_ratio = arrival_delay(mid).mean() / arrival_delay(mid_base).mean()
    assert 1.0 < mid_ratio < ratio


def test_unknown_kind_and_bad_scope_raise(network: Network) -> None:
    with pytest.raises(ConfigError, match="unknown scenario kind 'meteor'"):
        simulate_day(network, PARAMS, day(3), Scenario(kind="meteor"))
    bad = dataclasses.replace(scenario(PARAMS, "construction"), scope=("Atlantis",), start_day=1)
    with pytest.raises(ConfigError, match="Atlantis"):
        simulate_day(network, PARAMS, day(3), bad)
