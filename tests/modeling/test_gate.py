"""Gate rules, table-driven: thresholds, ties, NaN metrics, missing champion, clustered bootstrap."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from pipelines.config import Gate
from pipelines.modeling import gate

pytestmark = pytest.mark.unit

RULES = Gate(min_relative_gain=0.02, min_gain_over_persistence=0.10, max_class_degradation=0.05,
             bootstrap_samples=500, bootstrap_seed=11, champion_model="", min_gain_over_board=0.05,
             segments=("line",), max_segment_degradation=0.10, min_segment_rows=100,
             lower_bars_to_champion=False, require_approval=False,
             approval_timeout_h=72.0)
NAN = math.nan


def segment(value: float | tuple[float, int]) -> dict:
    """A segment's metrics: an MAE (on plenty of rows) or (MAE, rows)."""
    mae, n = value if isinstance(value, tuple) else (value, 1000)
    return {"mae": mae, "n": n}


def model(mae: float, lines: dict | None = None, **by_class: float | tuple[float, int]) -> dict:
    return {"mae": mae, "by_class": {c: segment(v) for c, v in by_class.items()},
            "by_line": {name: segment(v) for name, v in (lines or {}).items()}}


# (case, challenger, persistence MAE, champion or None, bootstrap upper, expected pass, failing checks)
CASES = [
    ("bootstrap: beats persistence", model(5.0), 10.0, None, NAN, True, set()),
    ("bootstrap: gain exactly at threshold passes", model(9.0), 10.0, None, NAN, True, set()),
    ("bootstrap: too close to persistence", model(9.5), 10.0, None, NAN, False, {"persistence_gain"}),
    ("bootstrap: NaN challenger MAE", model(NAN), 10.0, None, NAN, False, {"persistence_gain"}),
    ("bootstrap: NaN persistence MAE", model(5.0), NAN, None, NAN, False, {"persistence_gain"}),
    ("bootstrap: zero persistence MAE", model(0.0), 0.0, None, NAN, False, {"persistence_gain"}),
    ("champion: clear win", model(4.0, ICE=5.0, RE=3.0), 10.0, model(5.0, ICE=5.5, RE=3.0), -0.2, True,
     set()),
    ("champion: tie fails the margin and the interval", model(5.0, RE=3.0), 10.0, model(5.0, RE=3.0), 0.0,
     False, {"champion_gain", "bootstrap_upper"}),
    ("champion: gain below margin", model(4.95), 10.0, model(5.0), -0.01, False, {"champion_gain",
                                                                                  "class_degradation"}),
    ("champion: interval crosses zero", model(4.0, RE=3.0), 10.0, model(5.0, RE=3.0), 0.05, False,
     {"bootstrap_upper"}),
    ("champion: one class degrades 10%", model(4.0, ICE=5.5, RE=2.0), 10.0, model(5.0, ICE=5.0, RE=3.0), -0.3,
     False, {"class_degradation"}),
    ("champion: class degradation exactly 5% passes", model(4.0, ICE=5.25), 10.0, model(5.0, ICE=5.0), -0.3,
     True, set()),
    ("champion: NaN class MAE fails", model(4.0, ICE=NAN), 10.0, model(5.0, ICE=5.0), -0.3, False,
     {"class_degradation"}),
    ("champion: NaN bootstrap bound fails", model(4.0, RE=2.0), 10.0, model(5.0, RE=3.0), NAN, False,
     {"bootstrap_upper"}),
    ("champion: NaN champion MAE fails", model(4.0, RE=2.0), 10.0, model(NAN, RE=3.0), -0.3, False,
     {"champion_gain"}),
    ("champion: beats champion but not persistence", model(9.5, RE=2.0), 10.0, model(10.0, RE=3.0), -0.3,
     False, {"persistence_gain"}),
]


@pytest.mark.parametrize(("case", "challenger", "persistence", "champion", "upper", "expected", "failing"),
                         CASES, ids=[c[0] for c in CASES])
def test_gate_rules(case, challenger, persistence, champion, upper, expected, failing):
    passed, checks = gate.decide(RULES, challenger, persistence, champion, upper)
    assert passed is expected
    assert {c.name for c in checks if not c.passed} == failing
    assert all(c.reason for c in checks)


def test_without_champion_only_persistence_applies():
    _, checks = gate.decide(RULES, model(5.0), 10.0, None)
    assert [c.name for c in checks] == ["persistence_gain"]


def test_records_are_json_safe():
    _, checks = gate.decide(RULES, model(NAN), 10.0, None)
    record = gate.as_records(checks)[0]
    assert record["value"] is None and record["passed"] is False


def test_bootstrap_clear_improvement_is_below_zero():
    rng = np.random.default_rng(0)
    diff = rng.normal(-1.0, 1.0, 2000)
    groups = np.repeat(np.arange(400), 5)
    assert gate.cluster_bootstrap_upper(diff, groups, 500, 1) < -0.8


def test_bootstrap_no_difference_is_not_below_zero():
    assert gate.cluster_bootstrap_upper(np.zeros(100), np.arange(100), 200, 1) == 0.0


def test_bootstrap_resamples_whole_runs():
    """Rows of one run share their error: the interval must be as wide as the number of runs allows."""
    rng = np.random.default_rng(3)
    per_run = rng.normal(-0.1, 1.0, 20)
    diff = np.repeat(per_run, 50)           # 20 runs x 50 departures, perfectly correlated inside a run
    runs = np.repeat(np.arange(20), 50)
    clustered = gate.cluster_bootstrap_upper(diff, runs, 500, 2)
    naive = gate.cluster_bootstrap_upper(diff, np.arange(diff.size), 500, 2)
    assert clustered > naive + 0.2           # treating rows as independent would be overconfident
    assert clustered > 0


def test_bootstrap_is_seeded_and_nan_safe():
    diff, groups = np.linspace(-1, 0.5, 60), np.arange(60) // 3
    first = gate.cluster_bootstrap_upper(diff, groups, 300, 7)
    assert first == gate.cluster_bootstrap_upper(diff, groups, 300, 7)
    assert math.isnan(gate.cluster_bootstrap_upper(np.array([1.0, NAN]), np.array([0, 1]), 100, 1))
    assert math.isnan(gate.cluster_bootstrap_upper(np.array([]), np.array([]), 100, 1))


# (case, challenger, board forecast, expected pass, worst segment named)
BOARD_CASES = [
    ("beats the board overall and in every class", model(5.0, ICE=4.0, RE=3.0), model(6.0, ICE=5.0, RE=3.5),
     True, "RE"),
    ("a class barely better than the board fails", model(5.0, ICE=4.0, RE=3.4), model(6.0, ICE=5.0, RE=3.5),
     False, "RE"),
    ("a class worse than the board on few rows is not judged", model(5.0, ICE=4.0, RE=(4.0, 50)),
     model(6.0, ICE=5.0, RE=3.5), True, "overall"),
    ("overall too close to the board fails", model(5.9, ICE=4.0), model(6.0, ICE=5.0), False, "overall"),
    ("a NaN board MAE fails", model(5.0), model(NAN), False, "overall"),
]


@pytest.mark.parametrize(("case", "challenger", "board", "expected", "named"), BOARD_CASES,
                         ids=[c[0] for c in BOARD_CASES])
def test_the_challenger_must_beat_the_boards_own_forecast_per_class(case, challenger, board, expected, named):
    passed, checks = gate.decide(RULES, challenger, 10.0, None, board=board)
    [check] = [c for c in checks if c.name == "board_gain"]
    assert passed is expected and check.passed is expected
    assert f"board's forecast: {named} MAE" in check.reason


@pytest.mark.parametrize(("lines", "champion_lines", "expected"), [
    ({"RE 1": 3.0, "S 4": 2.0}, {"RE 1": 3.0, "S 4": 2.0}, True),
    ({"RE 1": 3.0, "S 4": 2.4}, {"RE 1": 3.0, "S 4": 2.0}, False),          # S 4: 20% worse
    ({"RE 1": 3.0, "S 4": (2.4, 50)}, {"RE 1": 3.0, "S 4": 2.0}, True),     # too few rows to judge
    ({"RE 1": (3.0, 50)}, {"RE 1": 2.0}, True),                            # no line judged at all
])
def test_no_line_may_degrade_beyond_the_margin(lines, champion_lines, expected):
    challenger, champion = model(4.0, lines, RE=3.0), model(5.0, champion_lines, RE=3.0)
    passed, checks = gate.decide(RULES, challenger, 10.0, champion, -0.3)
    [check] = [c for c in checks if c.name == "line_degradation"]
    assert check.passed is expected and passed is expected
    assert ("S 4" in check.reason) is (not expected) or "not judged" in check.reason


LOWERING = dataclasses.replace(RULES, lower_bars_to_champion=True)


# (case, challenger, persistence MAE, champion, board, expected pass, failing checks, bars used)
LOWERED_CASES = [
    ("a champion under the persistence bar lowers it to its own gain", model(9.5, RE=3.0), 10.0,
     model(9.8, RE=3.0), None, True, set(), {"persistence_gain": 0.02}),
    ("a champion worse than persistence: the bar falls to 0, not below", model(9.5, RE=3.0), 10.0,
     model(10.5, RE=3.0), None, True, set(), {"persistence_gain": 0.0}),
    ("still worse than persistence fails", model(10.2, RE=3.0), 10.0, model(10.5, RE=3.0), None, False,
     {"persistence_gain"}, {"persistence_gain": 0.0}),
    ("a champion above the bar keeps it", model(8.5, RE=3.0), 10.0, model(8.8, RE=3.0), None, True,
     set(), {"persistence_gain": 0.10}),
    ("the board bar per class falls to the champion's gain there", model(5.0, ICE=4.9, RE=3.0), 10.0,
     model(5.5, ICE=5.2, RE=3.0), model(6.0, ICE=5.0, RE=4.0), True, set(),
     {"persistence_gain": 0.10, "board_gain": 0.0}),
    ("a class under the board's forecast fails even lowered", model(5.0, ICE=5.1, RE=3.0), 10.0,
     model(5.5, ICE=5.2, RE=3.0), model(6.0, ICE=5.0, RE=4.0), False, {"board_gain"},
     {"board_gain": 0.0}),
]


@pytest.mark.parametrize(("case", "challenger", "persistence", "champion", "board", "expected", "failing",
                          "bars"), LOWERED_CASES, ids=[c[0] for c in LOWERED_CASES])
def test_a_champion_under_a_bar_lowers_it_for_a_challenger_that_beats_it(case, challenger, persistence,
                                                                         champion, board, expected, failing,
                                                                         bars):
    passed, checks = gate.decide(LOWERING, challenger, persistence, champion, -0.3, board=board)
    by_name = {c.name: c for c in checks}
    assert passed is expected and {c.name for c in checks if not c.passed} == failing
    assert {name: round(by_name[name].threshold, 6) for name in bars} == bars
    minimum = {"persistence_gain": RULES.min_gain_over_persistence, "board_gain": RULES.min_gain_over_board}
    for name in bars:
        assert ("lowered to the champion's" in by_name[name].reason) is (bars[name] != minimum[name])


def test_without_lowering_the_bars_are_absolute():
    _, checks = gate.decide(RULES, model(9.5, RE=3.0), 10.0, model(9.8, RE=3.0), -0.3)
    assert checks[0].name == "persistence_gain" and checks[0].threshold == 0.10 and not checks[0].passed
