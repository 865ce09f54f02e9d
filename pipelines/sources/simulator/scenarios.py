"""Staged regime changes (docs/RAIL_FACTS.md section 3): what a scenario does to the runs of one day."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.config import ConfigError, Scenario

KINDS = ("stationary", "construction", "strike", "storm", "timetable_change", "seasonal_trend")
STORM_AFTERMATH_DAYS = 3     # the heavier tail lasts this long after the storm itself
STRIKE_CALM = 0.15           # the few trains that run during a strike are near on time


@dataclass(frozen=True)
class DayEffects:
    """Per-run adjustments of one day; arrays are aligned with the runs table."""

    delay_scale: np.ndarray     # multiplies primary delays
    delay_add: np.ndarray       # minutes added at every stop after the origin
    cancel_p: np.ndarray        # extra probability that the whole run is cancelled
    reason: np.ndarray          # IRIS code shown on the run (0 for none)
    drop_stop: np.ndarray       # an intermediate stop is dropped (detour)
    add_stop: np.ndarray        # stations normally passed are served (detour)


def neutral(n_runs: int) -> DayEffects:
    """No adjustment."""
    return DayEffects(np.ones(n_runs), np.zeros(n_runs), np.zeros(n_runs),
                      np.zeros(n_runs, dtype=np.int64), np.zeros(n_runs, dtype=bool),
                      np.zeros(n_runs, dtype=bool))


def check_scenario(scenario: Scenario) -> None:
    """Raise ConfigError for a scenario the simulator does not know."""
    if scenario.kind not in KINDS:
        raise ConfigError(f"unknown scenario kind {scenario.kind!r}; known kinds: {', '.join(KINDS)}")
    scoped = scenario.kind in ("construction", "strike", "storm")
    if scoped and (not scenario.scope or scenario.start_day is None):
        raise ConfigError(f"scenario kind {scenario.kind!r} needs start_day and a scope")


def timetable_variant(scenario: Scenario | None, day_no: int) -> int:
    """1 on and after a timetable change, else 0."""
    if scenario is None or scenario.kind != "timetable_change":
        return 0
    return int(day_no >= (scenario.start_day or 1))


def _active(scenario: Scenario, day_no: int, default_end: int) -> bool:
    end = scenario.end_day if scenario.end_day is not None else default_end
    return (scenario.start_day or 1) <= day_no <= end


def _scope_mask(runs: pd.DataFrame, column: str, scope: tuple[str, ...], known: set[str]) -> np.ndarray:
    unknown = sorted(set(scope) - known)
    if unknown:
        raise ConfigError(f"scenario scope {unknown} matches no {column}; known: {sorted(known)}")
    if column == "regions":
        return np.array([bool(set(r) & set(scope)) for r in runs["regions"]])
    return runs[column].isin(scope).to_numpy()


def day_effects(scenario: Scenario | None, day_no: int, n_days: int, runs: pd.DataFrame,
                rng: np.random.Generator) -> DayEffects:
    """The adjustments `scenario` makes on calendar day `day_no` (1-based) of an `n_days` period."""
    fx = neutral(len(runs))
    if scenario is None:
        return fx
    check_scenario(scenario)
    kind, size = scenario.kind, scenario.size
    if kind == "seasonal_trend":
        start = scenario.start_day or 1
        progress = np.clip((day_no - start) / max(n_days - start, 1), 0.0, 1.0)
        fx.delay_scale[:] = 1.0 + size * progress
    elif kind == "construction" and _active(scenario, day_no, n_days):
        hit = _scope_mask(runs, "corridor", scenario.scope, set(runs["corridor"]))
        fx.delay_add[hit] = size * rng.uniform(0.8, 1.2, int(hit.sum()))
        fx.reason[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 31, 58)
        detour = rng.random(int(hit.sum())) < 0.5
        fx.drop_stop[hit], fx.add_stop[hit] = detour, ~detour
    elif kind == "strike" and _active(scenario, day_no, scenario.start_day or 1):
        hit = _scope_mask(runs, "category", scenario.scope, set(runs["category"]) | {"ICE", "IC"})
        fx.cancel_p[hit], fx.delay_scale[hit], fx.reason[hit] = size, STRIKE_CALM, 52
    elif kind == "storm":
        _storm(scenario, day_no, runs, fx)
    return fx


def _storm(scenario: Scenario, day_no: int, runs: pd.DataFrame, fx: DayEffects) -> None:
    known = {r for regions in runs["regions"] for r in regions}
    hit = _scope_mask(runs, "regions", scenario.scope, known)
    start = scenario.start_day or 1
    end = scenario.end_day if scenario.end_day is not None else start
    if start <= day_no <= end:
        fx.cancel_p[hit], fx.delay_scale[hit], fx.reason[hit] = scenario.size, 1.8, 11
    elif end < day_no <= end + STORM_AFTERMATH_DAYS:
        # Fallen trees and damaged overhead lines keep the tail heavy while repairs go on.
        fade = 1.0 - (day_no - end - 1) / STORM_AFTERMATH_DAYS
        fx.cancel_p[hit] = 0.2 * scenario.size * fade
        fx.delay_scale[hit] = 1.0 + 0.8 * fade
        fx.reason[hit] = 18
