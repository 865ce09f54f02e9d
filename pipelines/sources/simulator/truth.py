"""Ground truth of one service day: every run's true arrival and departure at every stop."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.config import Params, Scenario
from pipelines.sources.simulator import delays, disruptions, scenarios
from pipelines.sources.simulator.network import Network
from pipelines.sources.simulator.timetable import build_timetable

TRUTH_COLUMNS = (
    s.RUN_ID, s.SERVICE_DATE, s.TRAIN_NUMBER, s.TRAIN, s.CATEGORY, s.TRAIN_CLASSES, s.LINE, s.CORRIDOR,
    s.STOP_SEQ, s.STATION, s.SCHEDULED_ARRIVAL, s.SCHEDULED_DEPARTURE, s.TRUE_ARRIVAL, s.TRUE_DEPARTURE,
    s.SCHEDULED_PLATFORM, s.PLATFORM, s.STOP_CANCELLED, s.IS_ADDITIONAL, s.RUN_CANCELLED, s.REASON_CODES,
)
DAY_LEVEL_SIGMA = 0.15   # day-to-day variation of the delay level (weather, incidents)


@lru_cache(maxsize=8)
def _timetable(network: Network, variant: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    # The plan is the same every day of a variant; Network hashes by identity.
    return build_timetable(network, variant)


def day_number(params: Params, day: dt.date) -> int:
    """1-based day of the simulation calendar that starts at simulation.start_date."""
    return (day - params.simulation.start_date).days + 1


def simulate_day(network: Network, params: Params, day: dt.date,
                 scenario: Scenario | None = None) -> pd.DataFrame:
    """One row per (run, stop) of service date `day`, sorted by (run_id, stop_seq); see ARCHITECTURE.md."""
    day_no = day_number(params, day)
    if scenario is not None:
        scenarios.check_scenario(scenario)
    runs, stops = _timetable(network, scenarios.timetable_variant(scenario, day_no))
    seed = params.simulation.seed
    # Base draws depend only on (seed, date): a scenario changes the day, not the dice.
    rng = np.random.default_rng([seed, day.toordinal()])
    fx = scenarios.day_effects(scenario, day_no, params.simulation.days, runs,
                               np.random.default_rng([seed, day.toordinal(), 1]))
    run = stops["run"].to_numpy()
    day_level = rng.lognormal(0.0, DAY_LEVEL_SIGMA) * delays.WEEKDAY_LEVEL[day.weekday()]
    run_cancelled = disruptions.cancel_runs(rng, runs, fx.cancel_p)
    served = disruptions.serve_passing(rng, stops, fx.add_stop)
    cancelled, new_end = disruptions.cancel_stops(rng, runs, stops, served)
    detour = fx.drop_stop[run] & (stops["stop_seq"].to_numpy() == runs["n_stops"].to_numpy()[run] // 2)
    cancelled = cancelled | detour | run_cancelled[run]

    first = stops["is_first"].to_numpy()
    delay = delays.primary_delays(rng, runs, stops) * (day_level * fx.delay_scale)[run]
    delay = delay + np.where(first, 0.5, 1.0) * fx.delay_add[run]
    knock = delays.knock_on(stops, runs, delay, ~run_cancelled[run])
    delay = delay + knock
    arrival, departure = delays.arrival_departure(rng, runs, stops, delay)
    platform = disruptions.change_platforms(rng, stops, delay)
    reasons = disruptions.reason_codes(rng, runs, stops, delay, knock, cancelled, fx.reason)
    frame = pd.DataFrame({
        "run": run, "stop_seq": stops["stop_seq"].to_numpy(), s.STATION: stops["station"].to_numpy(),
        "sched_arr": stops["sched_arr"].to_numpy(), "sched_dep": stops["sched_dep"].to_numpy(),
        "arr": arrival, "dep": np.where(new_end, np.nan, departure),
        s.SCHEDULED_PLATFORM: stops["scheduled_platform"],
        s.PLATFORM: platform, s.STOP_CANCELLED: cancelled, s.IS_ADDITIONAL: stops["passing"].to_numpy(),
        s.RUN_CANCELLED: run_cancelled[run], s.REASON_CODES: reasons,
    })[served]
    return _assemble(frame, runs, day)


def _to_utc(day: dt.date, minutes: np.ndarray) -> pd.DatetimeIndex:
    """Local minutes after midnight of `day` (may exceed 24 h) as UTC instants; NaN -> NaT."""
    ns = np.datetime64(day, "ns") + np.where(np.isnan(minutes), 0, minutes * 60e9).astype("timedelta64[ns]")
    local = pd.DatetimeIndex(np.where(np.isnan(minutes), np.datetime64("NaT", "ns"), ns))
    return local.tz_localize(s.TZ_LOCAL).tz_convert("UTC")


def _plus_minutes(base: pd.DatetimeIndex, minutes: np.ndarray, keep: np.ndarray) -> pd.DatetimeIndex:
    """base + minutes rounded to whole seconds; NaT where not `keep` or minutes is NaN."""
    ok = keep & ~np.isnan(minutes)
    seconds = np.where(ok, np.round(np.nan_to_num(minutes) * 60.0), 0).astype(np.int64)
    out = base.asi8 + seconds * 1_000_000_000
    out = np.where(ok & ~base.isna(), out, np.iinfo(np.int64).min)   # int64 min is NaT
    return pd.DatetimeIndex(out.view("M8[ns]")).tz_localize("UTC")


def _assemble(frame: pd.DataFrame, runs: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Attach run attributes, convert minutes to UTC instants and order the columns."""
    # runs["run"] is the row position, so run attributes are a plain take.
    r = runs.take(frame["run"].to_numpy())
    run_ids = (f"{day:%Y%m%d}-" + runs["train_number"]).to_numpy()[frame["run"].to_numpy()]
    sched_arr = _to_utc(day, frame["sched_arr"].to_numpy())
    sched_dep = _to_utc(day, frame["sched_dep"].to_numpy())
    live = ~frame[s.STOP_CANCELLED].to_numpy()
    out = pd.DataFrame({
        s.RUN_ID: run_ids,
        s.SERVICE_DATE: day, s.TRAIN_NUMBER: r["train_number"].to_numpy(), s.TRAIN: r["train"].to_numpy(),
        s.CATEGORY: r["category"].to_numpy(), s.TRAIN_CLASSES: r["train_classes"].to_numpy(),
        s.LINE: r["line"].to_numpy(), s.CORRIDOR: r["corridor"].to_numpy(),
        s.STOP_SEQ: frame.groupby("run").cumcount().to_numpy(), s.STATION: frame[s.STATION].to_numpy(),
        s.SCHEDULED_ARRIVAL: sched_arr, s.SCHEDULED_DEPARTURE: sched_dep,
        s.TRUE_ARRIVAL: _plus_minutes(sched_arr, frame["arr"].to_numpy(), live),
        s.TRUE_DEPARTURE: _plus_minutes(sched_dep, frame["dep"].to_numpy(), live),
    })
    for col in (s.SCHEDULED_PLATFORM, s.PLATFORM, s.STOP_CANCELLED, s.IS_ADDITIONAL, s.RUN_CANCELLED,
                s.REASON_CODES):
        out[col] = frame[col].to_numpy()
    # Rows are already in stop order within a run; order the runs by run_id.
    rank = np.argsort(np.argsort((f"{day:%Y%m%d}-" + runs["train_number"]).to_numpy(), kind="stable"))
    order = np.lexsort((out[s.STOP_SEQ].to_numpy(), rank[frame["run"].to_numpy()]))
    out = out.take(order).reset_index(drop=True)
    return out[list(TRUTH_COLUMNS)]
