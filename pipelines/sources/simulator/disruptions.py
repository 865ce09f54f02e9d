"""Cancellations, early terminations, additional stops, platform changes and delay reason codes."""

from __future__ import annotations

import numpy as np
import pandas as pd

# (whole run, early termination, single intermediate stop) probabilities; docs/RAIL_FACTS.md section 3 puts
# cancelled stops at 5-11% for ICE/IC and 3-5% for regional trains.
CANCEL_RATES = {"ICE": (0.045, 0.035, 0.010), "IC": (0.045, 0.035, 0.010),
                "RE": (0.026, 0.02, 0.006), "RB": (0.03, 0.02, 0.006), "S": (0.034, 0.02, 0.006)}
ADDITIONAL_STOP_P = 0.03      # a run serves a station it normally passes
PLATFORM_CHANGE_P = 0.03
PLATFORM_CHANGE_LATE_P = 0.12  # platform changes are likelier for late trains
# IRIS delay reason codes and how often they are the primary cause (43 comes from knock-on).
REASON_CODES = np.array([99, 36, 68, 31, 35, 11, 18, 59, 58, 66])
REASON_WEIGHTS = np.array([0.34, 0.2, 0.14, 0.09, 0.06, 0.04, 0.04, 0.03, 0.04, 0.02])
KNOCK_ON_CODE = 43
CANCEL_REASONS = np.array([36, 99, 35, 18])
CANCEL_WEIGHTS = np.array([0.4, 0.35, 0.15, 0.1])


def cancel_runs(rng: np.random.Generator, runs: pd.DataFrame, extra_p: np.ndarray) -> np.ndarray:
    """Whole runs cancelled: the class base rate combined with a scenario's extra probability."""
    base = np.array([CANCEL_RATES[c][0] for c in runs["category"]])
    p = 1.0 - (1.0 - base) * (1.0 - extra_p)
    return rng.random(len(runs)) < p


def cancel_stops(rng: np.random.Generator, runs: pd.DataFrame, stops: pd.DataFrame,
                 served: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stop cancelled, new terminus) per row: early terminations drop trailing stops; single stops drop."""
    cats = runs["category"].to_numpy()
    p_term = np.array([CANCEL_RATES[c][1] for c in cats])
    p_single = np.array([CANCEL_RATES[c][2] for c in cats])
    run = stops["run"].to_numpy()
    seq = stops["stop_seq"].to_numpy()
    n = runs["n_stops"].to_numpy()
    # The cut stop becomes the new terminus; it lies strictly inside the route.
    inner_pick = 1 + (rng.random(len(runs)) * np.maximum(n - 2, 0)).astype(int)
    cut = np.where(rng.random(len(runs)) < p_term, inner_pick, n)
    cut = np.where(n > 2, cut, n)
    trailing = seq > cut[run]
    # The new terminus is the last served stop up to the cut: a station passed through cannot be one.
    kept = served & ~trailing
    end_seq = np.full(len(runs), -1)
    np.maximum.at(end_seq, run[kept], seq[kept])
    new_end = (seq == end_seq[run]) & (cut[run] < n[run])
    inner = ~stops["is_first"].to_numpy() & ~stops["is_last"].to_numpy()
    single = inner & served & ~new_end & (rng.random(len(stops)) < p_single[run])
    return trailing | single, new_end


def serve_passing(rng: np.random.Generator, stops: pd.DataFrame, forced: np.ndarray) -> np.ndarray:
    """Rows actually served: planned stops, plus passing stations served as additional stops."""
    passing = stops["passing"].to_numpy()
    extra = passing & ((rng.random(len(stops)) < ADDITIONAL_STOP_P) | forced[stops["run"].to_numpy()])
    return ~passing | extra


def change_platforms(rng: np.random.Generator, stops: pd.DataFrame, delay: np.ndarray) -> np.ndarray:
    """Realtime platform per row; a change picks another platform of the same station."""
    n = stops["n_platforms"].to_numpy()
    planned = stops["scheduled_platform"].to_numpy().astype(int)
    p = np.where(delay > 10, PLATFORM_CHANGE_LATE_P, PLATFORM_CHANGE_P)
    change = (n > 1) & (rng.random(len(stops)) < p)
    step = 1 + (rng.random(len(stops)) * np.maximum(n - 1, 1)).astype(int)
    other = (planned - 1 + step) % n + 1
    return np.where(change, other, planned).astype(str)


def _onset(cond: np.ndarray, first_row: np.ndarray) -> np.ndarray:
    """True from the first row of each run where `cond` holds (messages persist once shown)."""
    pos = np.arange(len(cond))
    start = np.maximum.accumulate(np.where(first_row, pos, 0))
    hit = np.where(cond, pos, len(cond))
    # First hit at or after each run's start: a running minimum from the end, reset per run.
    nxt = np.minimum.accumulate(hit[::-1])[::-1]
    return nxt[start] <= pos


def reason_codes(rng: np.random.Generator, runs: pd.DataFrame, stops: pd.DataFrame, delay: np.ndarray,
                 knock: np.ndarray, cancelled: np.ndarray, scenario_code: np.ndarray) -> np.ndarray:
    """Comma-joined IRIS codes per row, newest first; empty string when the train has none.

    `scenario_code` is an int per run (0 for none).
    """
    run = stops["run"].to_numpy()
    first_row = stops["is_first"].to_numpy()
    n_runs = len(runs)
    first = rng.choice(REASON_CODES, n_runs, p=REASON_WEIGHTS)
    second = rng.choice(REASON_CODES, n_runs, p=REASON_WEIGHTS)
    second = np.where(second == first, np.where(first == 99, 36, 99), second)
    cancel = rng.choice(CANCEL_REASONS, n_runs, p=CANCEL_WEIGHTS)
    # Ordered newest to oldest: a later, stronger trigger is shown above the earlier ones.
    slots = [
        np.where(cancelled, cancel[run], 0),
        np.where(_onset(delay >= 20, first_row), second[run], 0),
        np.where(_onset(knock >= 2, first_row), KNOCK_ON_CODE, 0),
        np.where(_onset(delay >= 5, first_row), first[run], 0),
        scenario_code[run],
    ]
    return _join_codes(np.stack(slots, axis=1).astype(np.int64))


def _join_codes(digits: np.ndarray) -> np.ndarray:
    """Row-wise comma join of non-zero two-digit codes, built once per distinct combination (few)."""
    key = digits @ (100 ** np.arange(digits.shape[1], dtype=np.int64))
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    joined = [",".join(dict.fromkeys(f"{c:02d}" for c in digits[i] if c)) for i in first]
    return np.array(joined, dtype=object)[inverse.reshape(-1)]
