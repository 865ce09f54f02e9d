"""Network and ground-truth engine of the simulator: shape, determinism, realism mechanics."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.config import Params, load_params
from pipelines.sources.simulator import delays
from pipelines.sources.simulator.network import Network, build_network
from pipelines.sources.simulator.truth import TRUTH_COLUMNS, simulate_day
from pipelines.timeutil import BERLIN

pytestmark = pytest.mark.unit

DAY = dt.date(2025, 9, 3)


@pytest.fixture(scope="module")
def network() -> Network:
    return build_network()


@pytest.fixture(scope="module")
def truth(network: Network) -> pd.DataFrame:
    return simulate_day(network, load_params(), DAY)


def test_network_size_and_classes(network: Network) -> None:
    st, lines = network.stations, network.lines
    assert len(st) >= 40 and st["eva"].str.fullmatch(r"80\d{5}").all()
    assert {"North", "Rhein-Main"} <= set(st["region"])
    assert (lines["category"].value_counts() >= 3).all()
    assert set(lines["category"]) == set(s.CATEGORIES)
    assert "Rhein-Main" in set(lines["corridor"])


def test_lookup_by_name_eva_ds100_and_ambiguous_prefix(network: Network) -> None:
    assert network.lookup("Köln Hbf") == "Köln Hbf"
    assert network.lookup("köln hbf") == "Köln Hbf"
    assert network.lookup("8000105") == "Frankfurt(Main) Hbf"
    assert network.lookup("EDG") == "Duisburg Hbf"
    assert network.lookup("Frankfurt") is None
    assert len(network.candidates("Frankfurt")) >= 2
    assert network.lookup("Atlantis") is None and network.candidates("Atlantis") == []
    assert network.station_names() == sorted(network.station_names())


def test_shared_sections_carry_several_lines(network: Network) -> None:
    pairs: dict[tuple[str, str], set[str]] = {}
    for line, route in zip(network.lines["line"], network.lines["route"], strict=True):
        for a, b in zip(route[:-1], route[1:], strict=True):
            pairs.setdefault(tuple(sorted((a, b))), set()).add(line)
    assert sum(len(v) >= 3 for v in pairs.values()) >= 3


def test_truth_columns_types_and_order(truth: pd.DataFrame) -> None:
    assert tuple(truth.columns) == TRUTH_COLUMNS
    for col in (s.SCHEDULED_ARRIVAL, s.SCHEDULED_DEPARTURE, s.TRUE_ARRIVAL, s.TRUE_DEPARTURE):
        assert str(truth[col].dtype) == "datetime64[ns, UTC]"
    assert truth.equals(truth.sort_values([s.RUN_ID, s.STOP_SEQ]).reset_index(drop=True))
    assert (truth[s.SERVICE_DATE] == DAY).all()
    assert 6000 <= len(truth) <= 10000


def test_origin_and_terminus_nulls(truth: pd.DataFrame) -> None:
    g = truth.groupby(s.RUN_ID)
    first, last = g.head(1), g.tail(1)
    assert first[s.SCHEDULED_ARRIVAL].isna().all() and first[s.TRUE_ARRIVAL].isna().all()
    assert last[s.SCHEDULED_DEPARTURE].isna().all() and last[s.TRUE_DEPARTURE].isna().all()
    inner = truth.drop(first.index.union(last.index))
    assert inner[s.SCHEDULED_ARRIVAL].notna().all() and inner[s.SCHEDULED_DEPARTURE].notna().all()
    assert (g[s.STOP_SEQ].diff().dropna() == 1).all()


def test_cancelled_stops_have_no_true_times(truth: pd.DataFrame) -> None:
    cancelled = truth[truth[s.STOP_CANCELLED]]
    assert len(cancelled) > 0
    assert cancelled[s.TRUE_ARRIVAL].isna().all() and cancelled[s.TRUE_DEPARTURE].isna().all()
    assert truth.loc[truth[s.RUN_CANCELLED], s.STOP_CANCELLED].all()
    assert (cancelled[s.REASON_CODES] != "").all()


def test_early_termination_drops_trailing_stops(truth: pd.DataFrame) -> None:
    live_run = ~truth[s.RUN_CANCELLED]
    ends = truth[live_run & ~truth[s.STOP_CANCELLED] & truth[s.SCHEDULED_DEPARTURE].notna()
                 & truth[s.TRUE_DEPARTURE].isna()]
    assert len(ends) > 0                        # a run cut short ends at a planned intermediate stop
    running = truth[~truth[s.STOP_CANCELLED]].groupby(s.RUN_ID).tail(1)
    assert running[s.TRUE_DEPARTURE].isna().all()   # wherever a train ends, it does not depart again
    for run_id, seq in zip(ends[s.RUN_ID].head(5), ends[s.STOP_SEQ].head(5), strict=True):
        run = truth[truth[s.RUN_ID] == run_id]
        assert run.loc[run[s.STOP_SEQ] > seq, s.STOP_CANCELLED].all()
        assert run.loc[run[s.STOP_SEQ] <= seq, s.STOP_CANCELLED].sum() <= 1


def test_dwell_keeps_departure_after_arrival(truth: pd.DataFrame) -> None:
    both = truth.dropna(subset=[s.TRUE_ARRIVAL, s.TRUE_DEPARTURE])
    assert (both[s.TRUE_DEPARTURE] >= both[s.TRUE_ARRIVAL]).all()
    dep_delay = both[s.TRUE_DEPARTURE] - both[s.SCHEDULED_DEPARTURE]
    assert (dep_delay >= pd.Timedelta(0)).all()


def test_train_numbers_unique_and_labels(truth: pd.DataFrame) -> None:
    runs = truth.drop_duplicates(s.RUN_ID)
    assert runs[s.TRAIN_NUMBER].is_unique and runs[s.TRAIN_NUMBER].str.fullmatch(r"\d+").all()
    fv = runs[runs[s.CATEGORY].isin(["ICE", "IC"])]
    assert (fv[s.TRAIN] == fv[s.CATEGORY] + " " + fv[s.TRAIN_NUMBER]).all()
    regional = runs[~runs[s.CATEGORY].isin(["ICE", "IC"])]
    assert (regional[s.TRAIN] == regional[s.LINE]).all()
    assert set(runs[s.TRAIN_CLASSES]) == {"F", "N", "S"}


def test_schedule_within_service_day(truth: pd.DataFrame) -> None:
    times = pd.concat([truth[s.SCHEDULED_ARRIVAL], truth[s.SCHEDULED_DEPARTURE]]).dropna()
    local = times.dt.tz_convert(BERLIN)
    start = pd.Timestamp(dt.datetime.combine(DAY, dt.time(4, 0)), tz=BERLIN)
    assert local.min() >= start + pd.Timedelta(minutes=30)
    assert local.max() <= start + pd.Timedelta(hours=21, minutes=30)


@pytest.mark.parametrize("day", [dt.date(2025, 10, 25), dt.date(2025, 10, 26), dt.date(2026, 3, 29)])
def test_dst_days_keep_local_clock(network: Network, params: Params, day: dt.date) -> None:
    truth = simulate_day(network, params, day)
    first = truth[s.SCHEDULED_DEPARTURE].dropna().dt.tz_convert(BERLIN).min()
    assert (first.hour, first.minute) == (4, 30) and first.date() == day


def test_deterministic_and_independent_of_other_days(network: Network, params: Params) -> None:
    alone = simulate_day(network, params, DAY)
    simulate_day(network, params, DAY - dt.timedelta(days=1))
    again = simulate_day(build_network(), params, DAY)
    pd.testing.assert_frame_equal(alone, again)
    other = load_params(overrides={"simulation.seed": params.simulation.seed + 1})
    assert not alone[s.TRUE_ARRIVAL].equals(simulate_day(network, other, DAY)[s.TRUE_ARRIVAL])


def test_realism_mechanics_present(truth: pd.DataFrame) -> None:
    delay = (truth[s.TRUE_ARRIVAL] - truth[s.SCHEDULED_ARRIVAL]).dt.total_seconds() / 60
    early = (delay <= -1).mean()
    assert 0.01 < early < 0.08, early
    assert 0.01 < (truth[s.PLATFORM] != truth[s.SCHEDULED_PLATFORM]).mean() < 0.1
    assert truth[s.IS_ADDITIONAL].any()
    codes = set(",".join(truth[s.REASON_CODES]).split(",")) - {""}
    assert {"43", "99", "36"} <= codes
    newest_first = truth.loc[truth[s.REASON_CODES].str.count(",") >= 1, s.REASON_CODES]
    assert len(newest_first) > 0


def test_knock_on_follower_inherits_delay_within_headway() -> None:
    runs = pd.DataFrame({"headway_min": [60, 60, 60]})
    stops = pd.DataFrame({
        "run": [0, 0, 1, 1, 2, 2], "station": ["A", "B"] * 3, "is_first": [True, False] * 3,
        "sched_dep": [600.0, np.nan, 605.0, np.nan, 700.0, np.nan],
    })
    delay = np.array([20.0, 20.0, 0.0, 0.0, 0.0, 0.0])
    extra = delays.knock_on(stops, runs, delay, np.ones(6, dtype=bool))
    wait = min(600 + 20 + delays.MIN_SEPARATION_MIN - 605, delays.KNOCK_CAP_MIN)
    assert extra[3] == pytest.approx(delays.KNOCK_SHARE * wait)
    assert extra[1] == 0 and extra[5] == 0      # the leader, and a train 95 min behind (> headway)
    cancelled_leader = delays.knock_on(stops, runs, delay, np.array([False, False, True, True, True, True]))
    assert cancelled_leader[3] == 0
