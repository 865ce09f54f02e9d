"""Delay generation: primary delays that grow along the route and over the day, knock-on, padding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DelayParams:
    """Per-class shape of the delay process (minutes, per hour of travel)."""

    p_clean: float        # share of runs that stay close to the plan all day
    origin_mean: float    # mean departure delay at the origin of a disturbed run
    jump_rate: float      # disturbances per hour of travel
    jump_mean: float      # mean minutes lost per disturbance
    severity_shape: float  # gamma shape of the per-run severity (smaller: heavier tail)
    noise_mean: float     # small stop-to-stop delay every train has (dwell overruns, slow running)
    pad_max: float        # schedule padding recovered before an arrival, up to this
    early_share: float    # share of on-time arrivals that come in 1-3 minutes early


# Calibrated against docs/RAIL_FACTS.md section 3 by tests/sources/test_simulator_calibration.py
# (IC shares ICE's row).
CLASS_DELAY = {
    "ICE": DelayParams(0.05, 4.0, 0.9, 3.5, 0.55, 1.5, 2.6, 0.15),
    "IC": DelayParams(0.05, 4.0, 0.9, 3.5, 0.55, 1.5, 2.6, 0.15),
    "RE": DelayParams(0.3, 2.0, 1.2, 3.3, 0.6, 1.5, 1.5, 0.15),
    "RB": DelayParams(0.47, 2.65, 1.33, 2.9, 1.2, 2.0, 1.5, 0.15),
    "S": DelayParams(0.4, 0.63, 0.75, 1.7, 1.0, 2.0, 0.75, 0.12),
}
# Delays build up over the day (local hour -> level; 1.0 at 15 h), per docs/RAIL_FACTS.md section 3.
HOUR_KNOTS = np.array([4.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 23.0, 26.0])
HOUR_LEVEL = np.array([0.45, 0.55, 0.75, 0.85, 1.0, 1.15, 1.3, 1.45, 1.5])
WEEKDAY_LEVEL = np.array([1.05, 1.0, 1.0, 1.05, 1.15, 0.85, 0.8])  # Monday first
MIN_SEPARATION_MIN = 3.0   # trains on one section keep this apart
KNOCK_SHARE = 0.25         # share of the blocking delay a follower inherits (dispatchers reorder)
KNOCK_CAP_MIN = 10.0       # a follower is rerouted or overtakes rather than wait longer


def class_table(runs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-run arrays of the DelayParams fields, looked up by category."""
    codes, names = pd.factorize(runs["category"])
    fields = DelayParams.__dataclass_fields__
    return {f: np.array([getattr(CLASS_DELAY[c], f) for c in names])[codes] for f in fields}


def hour_level(local_minutes: np.ndarray) -> np.ndarray:
    """Daily cycle multiplier at local minutes after midnight of the service day."""
    return np.interp(local_minutes / 60.0, HOUR_KNOTS, HOUR_LEVEL)


def primary_delays(rng: np.random.Generator, runs: pd.DataFrame, stops: pd.DataFrame) -> np.ndarray:
    """Minutes late at each stop row before padding and knock-on (rows sorted by run, stop_seq)."""
    p = class_table(runs)
    n_runs = len(runs)
    run = stops["run"].to_numpy()
    clean = rng.random(n_runs) < p["p_clean"]
    severity = rng.gamma(p["severity_shape"], 1.0 / p["severity_shape"])
    origin = np.where(clean, 0.0, rng.exponential(p["origin_mean"]) * severity)
    offset = stops["offset"].to_numpy()
    hours = np.where(stops["is_first"].to_numpy(), 0.0, np.diff(offset, prepend=0.0) / 60.0)
    # Clean runs see only rare, small disturbances.
    rate = np.where(clean, 0.2, 1.0)[run] * p["jump_rate"][run] * hours
    size = np.where(clean, 1.0, p["jump_mean"] * severity)[run]
    n_jumps = rng.poisson(rate)
    jumps = rng.gamma(np.maximum(n_jumps, 1), 1.0) * size * (n_jumps > 0)
    cum = origin[run] + _cumsum_by_run(jumps, stops["is_first"].to_numpy())
    cum = cum + rng.exponential(p["noise_mean"][run])
    return cum * hour_level(_stop_minutes(stops))


def _stop_minutes(stops: pd.DataFrame) -> np.ndarray:
    return stops["sched_arr"].fillna(stops["sched_dep"]).to_numpy()


def _cumsum_by_run(values: np.ndarray, is_first: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at every run's first row."""
    total = np.cumsum(values)
    start = np.maximum.accumulate(np.where(is_first, np.arange(len(values)), 0))
    return total - total[start] + values[start]


def knock_on(stops: pd.DataFrame, runs: pd.DataFrame, delay: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Extra minutes per row inherited from a late train ahead on the same section, carried forward."""
    seg = np.flatnonzero(~stops["is_first"].to_numpy() & active)
    prev = seg - 1
    station = stops["station"].to_numpy()
    key = pd.factorize(pd.Series(station[prev]) + "|" + pd.Series(station[seg]))[0]
    sched = stops["sched_dep"].to_numpy()[prev]
    true = sched + np.maximum(delay[prev], 0.0)
    order = np.lexsort((sched, key))
    k, s, t = key[order], sched[order], true[order]
    same = np.r_[False, k[1:] == k[:-1]]
    lead_s, lead_t = np.r_[np.nan, s[:-1]], np.r_[np.nan, t[:-1]]
    headway = runs["headway_min"].to_numpy()[stops["run"].to_numpy()[seg[order]]]
    blocked = same & (s - lead_s <= headway)
    wait = np.clip(lead_t + MIN_SEPARATION_MIN - t, 0.0, KNOCK_CAP_MIN)
    extra = np.where(blocked, KNOCK_SHARE * wait, 0.0)
    inc = np.zeros(len(stops))
    inc[seg[order]] = extra
    return _cumsum_by_run(inc, stops["is_first"].to_numpy())


def arrival_departure(rng: np.random.Generator, runs: pd.DataFrame, stops: pd.DataFrame,
                      delay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(arrival delay, departure delay) minutes: padding absorbs small delays, trains never leave early."""
    p = class_table(runs)
    run = stops["run"].to_numpy()
    pad = rng.random(len(stops)) * p["pad_max"][run]
    arrival = np.maximum(delay - pad, 0.0)
    # Padding lets some trains that would be on time arrive 1-3 minutes early.
    early = (arrival < 1.0) & (rng.random(len(stops)) < p["early_share"][run])
    arrival = np.where(early, -rng.uniform(1.0, 3.5, len(stops)), arrival)
    departure = np.maximum(delay, 0.0)
    return arrival, departure
