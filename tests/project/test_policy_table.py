"""The policy benchmark's figures from hand-made results: days to promotion, gains against the stale
champion, skill ratios, transient-shock checks, the drift-vs-daily claim."""

from __future__ import annotations

import datetime as dt

import pytest

from benchmarks import policy_table as pt
from pipelines.config import load_params

pytestmark = pytest.mark.unit

FIRST = load_params().simulation.start_date


def day(n: int) -> str:
    return (FIRST + dt.timedelta(days=n - 1)).isoformat()


def policy(mae_by_day: dict[int, float], promotions: list[int], retrains: int, verdicts=None) -> dict:
    """A policy's figures: daily [MAE, persistence MAE 10, 100 rows]."""
    daily = {day(n): [mae, 10.0, 100] for n, mae in mae_by_day.items()}
    return {"daily": daily, "daily_scope": {}, "promotion_days": promotions, "retrains": retrains,
            "mean_daily_mae": sum(mae_by_day.values()) / len(mae_by_day), "verdicts": verdicts or {}}


def test_a_persistent_shift_answered_in_three_days():
    # construction starts on day 15 (params.yaml); the drift policy promotes at tick 18: serves day 18 on
    stale = {n: 5.0 if n < 15 else 8.0 for n in range(10, 31)}
    adapted = {n: stale[n] if n < 18 else 6.0 for n in range(10, 31)}
    run = {"scenario": "construction", "seed": 7,
           "policies": {"drift": policy(adapted, [10, 18], 1), "never": policy(stale, [10], 0),
                        "daily": policy(adapted, [10, 12, 18], 20)}}
    summary = pt.summarize([run])["construction"]
    seed = summary["per_seed"][7]
    assert seed["days_to_promotion"] == 3
    assert seed["gain_vs_stale_7d"] == 0.25                     # 6 against 8 on days 18-24
    assert seed["skill_ratio_after"] == round(0.4 / 0.5, 4)     # skill 0.4 after, 0.5 before the event
    assert summary["drift_share_of_daily_retrains"] == 0.05
    assert summary["drift_mae_above_daily"] == 0.0


def test_a_storm_without_a_drift_signal_and_a_promotion_that_does_worse_afterwards():
    # storm: days 12-14; the model promoted at tick 15 does worse than the stale one in the 7 days after
    stale = {n: 5.0 for n in range(10, 31)}
    worse = {n: 5.0 if n < 15 else 5.5 for n in range(10, 31)}
    quiet = {day(n): "no_drift: no drift signal in this window" for n in range(10, 31)}
    run = {"scenario": "storm", "seed": 8,
           "policies": {"drift": policy(worse, [10, 15], 1, quiet), "never": policy(stale, [10], 0)}}
    seed = pt.summarize([run])["storm"]["per_seed"][8]
    assert seed == {"drift_signal_during_event": False, "gain_vs_stale_after_event": -0.1,
                    "promotions_from_event": 1}


def test_stationary_counts_drift_retrains_apart_from_the_bootstrap_and_its_warm_up():
    flat = {n: 5.0 for n in range(10, 31)}
    verdicts = {day(9): "retrain: bootstrap: no champion yet",
                day(16): "retrain: warm-up: the bootstrap model of 2025-09-09",
                day(20): "drift: drift in 1 of the last 3 windows; a retrain needs 2",
                day(28): "retrain: drift persisting since 2025-09-19 (2 of the last 3 windows)"}
    quiet = {d: v for d, v in verdicts.items() if d != day(28)}
    runs = [{"scenario": "stationary", "seed": seed, "policies": {"drift": policy(flat, [10, 17], 2, v)}}
            for seed, v in ((7, verdicts), (8, quiet))]
    summary = pt.summarize(runs)["stationary"]
    assert summary["retrain_kinds_per_seed"] == {7: {"bootstrap": 1, "warm_up": 1, "drift": 1},
                                                 8: {"bootstrap": 1, "warm_up": 1}}
    assert summary["drift_retrains_per_seed"] == {7: 1, 8: 0}


def test_a_rerun_policy_replaces_its_row_and_keeps_the_others():
    flat = {n: 5.0 for n in range(10, 31)}
    old = {"scenario": "strike", "seed": 8, "days": 30,
           "policies": {"drift": {**policy(flat, [10], 1), "code": "a"}, "never": {**policy(flat, [10], 0),
                                                                                   "code": "a"}}}
    new = {"scenario": "strike", "seed": 8, "days": 30, "policies": {"drift": {**policy(flat, [10], 2),
                                                                                "code": "b"}}}
    other = {"scenario": "storm", "seed": 7, "days": 30, "policies": {"drift": policy(flat, [10], 0)}}
    cells = pt.merged([old, other, new])
    assert [(c["scenario"], c["seed"]) for c in cells] == [("storm", 7), ("strike", 8)]
    assert {p: row["code"] for p, row in cells[1]["policies"].items()} == {"drift": "b", "never": "a"}
    assert cells[1]["policies"]["drift"]["retrains"] == 2


def test_a_bootstrap_during_a_strike_is_no_drift_signal_unless_it_names_the_cancellation_surge():
    # strike: days 10-12; the bootstrap was retried on each of them (no champion to judge drift against)
    flat = {n: 5.0 for n in range(13, 31)}
    verdicts = {day(n): "retrain: bootstrap: no champion yet and enough closed days" for n in range(9, 13)}
    run = {"scenario": "strike", "seed": 8, "policies": {"drift": policy(flat, [13], 1, verdicts)}}
    assert pt.summarize([run])["strike"]["per_seed"][8]["drift_signal_during_event"] is False
    verdicts[day(11)] = "deferred: 1 post-event day(s) with matured labels since 2025-09-10"
    assert pt.summarize([run])["strike"]["per_seed"][8]["drift_signal_during_event"] is True
    verdicts[day(11)] = ("retrain: bootstrap: no champion yet and enough closed days; "
                         "cancellation surge since 2025-09-10")   # the check that needs no champion
    assert pt.summarize([run])["strike"]["per_seed"][8]["drift_signal_during_event"] is True
    assert pt.retrain_kinds(verdicts) == {"bootstrap": 4}, "still a bootstrap retrain, not a drift one"


def test_the_timetable_change_runs_with_the_lines_it_opens_and_closes():
    from benchmarks.bench_policies import CORRIDORS, scenario_corridors
    from pipelines.sources.simulator.network import build_network

    wider = scenario_corridors("timetable_change", CORRIDORS)
    assert wider[:len(CORRIDORS)] == CORRIDORS and scenario_corridors("storm", CORRIDORS) == CORRIDORS
    lines = build_network(7, wider).lines
    old, new = (set(lines.loc[lines["variant"] == v, "line"]) for v in ("old", "new"))
    assert old and new, "the cut holds lines that close and lines that open with the change"
    assert scenario_corridors("timetable_change", ()) == (), "the whole network already holds them"
