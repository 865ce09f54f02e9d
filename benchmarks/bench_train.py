"""Training cost at 1 million rows, and the share of wall time outside LightGBM's own training.

Also home of the synthetic features + labels generator the train/gate/registry tests use until the
simulator-to-features chain produces data: label = delay now + growth x remaining time + class effect + noise.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines import schema as s
from pipelines.config import Params, load_params
from pipelines.datasets import close_time
from pipelines.detection.ids import departure_id
from pipelines.storage import Layout, write_parquet
from pipelines.timeutil import local_midnight_utc

CLASSES = ("ICE", "IC", "RE", "RB", "S")
CLASS_SHARE = (0.15, 0.10, 0.30, 0.20, 0.25)
MEAN_DELAY = {"ICE": 8.0, "IC": 6.0, "RE": 3.0, "RB": 2.0, "S": 1.5}      # minutes, heavy-tailed
GROWTH = {"ICE": 3.1, "IC": 3.1, "RE": 3.1, "RB": 2.5, "S": 1.7}  # minutes per hour (docs/RAIL_FACTS.md)
OFFSET = {"ICE": 2.0, "IC": 1.0, "RE": 0.5, "RB": 0.0, "S": -0.5}
STATIONS = ("Frankfurt(Main)Hbf", "Mannheim Hbf", "Koeln Hbf", "Dortmund Hbf", "Hamburg Hbf", "Muenchen Hbf")
CORRIDORS = ("Rhein-Main", "Rhein-Ruhr", "North", "South")
REASONS = ("none", "31", "43", "36", "99")


def synthetic_day(day: dt.date, rows: int, seed: int,
                  shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features, labels) of one service date; `shift` adds minutes to every label (a regime change)."""
    rng = np.random.default_rng([seed, day.toordinal()])
    cat = rng.choice(CLASSES, size=rows, p=CLASS_SHARE)
    mean = np.vectorize(MEAN_DELAY.get)(cat)
    delay = np.where(rng.random(rows) < 0.3, 0.0, np.floor(rng.exponential(mean)))
    remaining = np.floor(rng.uniform(10, 240, rows) * np.where(np.isin(cat, ("ICE", "IC")), 1.5, 0.6))
    hour = rng.integers(5, 24, rows)
    reason = np.where(delay > 5, rng.choice(REASONS[1:], size=rows), "none")
    noise = rng.laplace(0, 2.0, rows)
    growth = np.vectorize(GROWTH.get)(cat) * (1 + hour / 24)
    label = np.floor(np.maximum(delay + growth * remaining / 60 + np.vectorize(OFFSET.get)(cat)
                                + np.where(reason == "36", 4.0, 0.0) + shift + noise, -3))
    station = rng.choice(STATIONS, size=rows)
    numbers = [str(10000 + i) for i in range(rows)]
    minutes = pd.to_timedelta(hour * 60 + rng.integers(0, 60, rows), unit="min")
    t_pred = pd.Series(local_midnight_utc(day) + minutes).astype("datetime64[us, UTC]")   # the schema's unit
    board = np.where(rng.random(rows) < 0.7, label + rng.normal(0, 3, rows).round(), np.nan)
    feats = pd.DataFrame({
        s.DEPARTURE_ID: [departure_id(day, n, st) for n, st in zip(numbers, station, strict=True)],
        s.SERVICE_DATE: day, s.T_PRED: t_pred, s.TRAIN_NUMBER: numbers,
        s.DELAY_AT_PRED: delay, s.REMAINING_SCHED_MIN: remaining,
        s.REMAINING_STOPS: rng.integers(0, 12, rows),
        s.HOUR: hour, s.WEEKDAY: day.weekday(), s.DELAY_TREND: rng.normal(0, 0.3, rows),
        s.LATE_VS_SCHEDULE_MIN: np.maximum(delay - rng.integers(0, 3, rows), 0),
        s.PLATFORM_CHANGE: (rng.random(rows) < 0.05).astype("int8"),
        s.N_REASONS: (reason != "none").astype(int),
        s.LINE_RECENT_DELAY: mean + rng.normal(0, 1, rows),
        s.STATION_RECENT_DELAY: 3 + rng.normal(0, 1, rows),
        s.DEST_BOARD_FORECAST: board, s.CATEGORY: cat,
        s.LINE: [f"{c} {n}" for c, n in zip(cat, rng.integers(1, 9, rows), strict=True)],
        s.STATION: station, s.PLANNED_DESTINATION: rng.choice(STATIONS, size=rows),
        s.CORRIDOR: rng.choice(CORRIDORS, size=rows), s.REASON_CODE: reason,
    })
    feats[s.PRED_PERSISTENCE] = delay
    feats[s.PRED_PERSISTENCE_GROWTH] = delay + 3.1 * remaining / 60
    feats[s.PRED_BOARD_FORECAST] = np.where(np.isnan(board), delay, board)
    feats[s.BOARD_FORECAST_AVAILABLE] = ~np.isnan(board)
    unlabelable = rng.random(rows) < 0.03
    known = (t_pred + pd.to_timedelta(remaining + 7, unit="min")).clip(
        upper=local_midnight_utc(day + dt.timedelta(days=1)) + dt.timedelta(hours=5))  # before the day closes
    labels = pd.DataFrame({s.DEPARTURE_ID: feats[s.DEPARTURE_ID],
                           s.LABEL: np.where(unlabelable, np.nan, label),
                           s.LABELED_AT: known,
                           s.LABEL_STATUS: np.where(unlabelable, "unlabelable", "labeled"),
                           s.LABEL_REASON: np.where(unlabelable, "cut_short", "")})
    return feats.sort_values(s.DEPARTURE_ID), labels.sort_values(s.DEPARTURE_ID)


def write_days(params: Params, layout: Layout, first: dt.date, n_days: int, rows: int, seed: int = 1,
               shift_from: dt.date | None = None, shift: float = 0.0) -> dt.datetime:
    """Write features and labels partitions for n_days, each features batch through the real
    validate_features gate (train, score and monitor use only batches it passed); returns the instant
    all of them have closed."""
    from pipelines.validation import validate_features

    for i in range(n_days):
        day = first + dt.timedelta(days=i)
        feats, labels = synthetic_day(day, rows, seed, shift if shift_from and day >= shift_from else 0.0)
        table = pa.Table.from_pandas(feats, schema=s.FEATURES_SCHEMA, preserve_index=False)
        write_parquet(table, layout.day_file("features", day))
        write_parquet(labels, layout.day_file("labels", day))
        validate_features.validate_table(params, layout, day, table)
    return close_time(params, first + dt.timedelta(days=n_days - 1))


def _phases(train_module, tracking_module) -> dict[str, tuple[object, str]]:
    """The steps of train.run timed apart (module, attribute), to show where the time outside goes."""
    return {"read_training_rows": (train_module.td, "read_model_rows"),
            "read_holdout": (train_module.td, "read_frame"),
            "vocabularies": (train_module, "build_vocabularies"),
            "feature_matrices": (train_module, "feature_matrix"),
            "artifacts_and_plots": (train_module, "_artifacts"),
            "mlflow_log_and_register": (tracking_module, "log_training"),
            "registry_hash_check": (tracking_module, "model_file")}


def run(rows: int = 1_000_000) -> dict:
    """Train on `rows` synthetic rows through train.run; time LightGBM's own fit against the whole stage."""
    import lightgbm as lgb

    from pipelines.modeling import train
    from pipelines.registry import tracking

    def timed(function, total):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                total["s"] += time.perf_counter() - t0
        return wrapper

    params = load_params()
    days = params.train.window_days + params.train.holdout_days
    phases = {"lightgbm_fit": (lgb, "train"), "lightgbm_predict": (lgb.Booster, "predict"),
              **_phases(train, tracking)}
    totals = {name: {"s": 0.0} for name in phases}
    originals = {name: getattr(owner, attr) for name, (owner, attr) in phases.items()}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as root:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        layout = Layout(params, root)
        as_of = write_days(params, layout, dt.date(2025, 9, 1), days, rows // days)
        # A worker that trains has its imports done and its store migrated: time that apart.
        # (mlflow.pyfunc is imported lazily by log_model: an import, so it is here too.)
        t_cold = time.perf_counter()
        import matplotlib.figure  # noqa: F401
        import mlflow.lightgbm  # noqa: F401
        import mlflow.pyfunc  # noqa: F401

        tracking.connect(layout)
        cold = time.perf_counter() - t_cold
        # lgb.train is LightGBM's own training (the figure); Booster.predict (holdout scoring) is shown apart.
        for name, (owner, attr) in phases.items():
            setattr(owner, attr, timed(originals[name], totals[name]))
        try:
            t0 = time.perf_counter()
            result = train.run(params, layout, as_of, {"kind": "bootstrap", "reason": "benchmark"})
            wall = time.perf_counter() - t0
        finally:
            for name, (owner, attr) in phases.items():
                setattr(owner, attr, originals[name])
    fit_s, predict_s = totals["lightgbm_fit"]["s"], totals["lightgbm_predict"]["s"]
    timed_s = {name: round(totals[name]["s"], 2) for name in phases if name not in ("lightgbm_fit",)}
    timed_s["other"] = round(wall - sum(t["s"] for t in totals.values()), 2)
    return {"rows_total": rows, "rows_train": result["rows"]["train"], "wall_s": round(wall, 2),
            "lightgbm_fit_s": round(fit_s, 2),
            "outside_lightgbm_share": round(1 - fit_s / wall, 3),
            "lightgbm_predict_s": round(predict_s, 2),
            "outside_lightgbm_train_and_predict_share": round(1 - (fit_s + predict_s) / wall, 3),
            "outside_lightgbm_s": timed_s,
            "target_outside_share": 0.15, "cold_start_s": round(cold, 2), "mae": round(result["mae"], 3),
            "mae_persistence": round(result["mae_persistence"], 3)}
