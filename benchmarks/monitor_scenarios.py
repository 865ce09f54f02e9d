"""Simulator scenarios for the monitor benchmark: simulate, build features, check each day vs a reference.

The champion stand-in predicts persistence plus growth (no model training), so the figures isolate the
monitor: which days of a stationary and a construction scenario it flags, and what a daily check costs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipelines import schema as s
from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.detection import detect_departures
from pipelines.features import build_features
from pipelines.modeling.training_rows import read_training_frame
from pipelines.monitoring import history as monitor_history
from pipelines.monitoring import monitor
from pipelines.monitoring.inputs import FileReference
from pipelines.sources import simulate
from pipelines.storage import Layout, write_parquet
from pipelines.timeutil import local_midnight_utc
from pipelines.validation import validate_snapshots

STAND_IN = "stand-in"


def with_start(params: Params, scenario: str, start_day: int) -> Params:
    """params whose `scenario` begins on calendar day `start_day`."""
    found = dict(params.simulation.scenarios)
    found[scenario] = dataclasses.replace(found[scenario], start_day=start_day)
    return dataclasses.replace(params, simulation=dataclasses.replace(params.simulation, scenarios=found))


def build_days(params: Params, layout: Layout, scenario: str, days: int) -> list[dt.date]:
    """Simulate `days` service dates of `scenario` and build their features and labels."""
    first = params.simulation.start_date
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    simulate.run(params, layout, local_midnight_utc(first), close_time(params, dates[-1]), scenario=scenario)
    for day in dates:
        validate_snapshots.run(params, layout, day)
        detect_departures.run(params, layout, day)
        build_features.run(params, layout, day)
    return dates


def stand_in_predictions(layout: Layout, day: dt.date) -> None:
    """predictions/<day>.parquet of the stand-in champion (persistence plus growth)."""
    feats = pd.read_parquet(layout.day_file("features", day))
    pred = feats[s.PRED_PERSISTENCE_GROWTH].astype("float64")
    frame = pd.DataFrame({s.PREDICTION_ID: feats[s.DEPARTURE_ID], s.DEPARTURE_ID: feats[s.DEPARTURE_ID],
                          s.SERVICE_DATE: feats[s.SERVICE_DATE], s.T_PRED: feats[s.T_PRED],
                          s.MODEL_VERSION: STAND_IN, s.PREDICTION: pred, s.SHADOW_MODEL_VERSION: STAND_IN,
                          s.SHADOW_PREDICTION: pred})
    write_parquet(pa.Table.from_pandas(frame, schema=s.PREDICTIONS_SCHEMA, preserve_index=False),
                  layout.day_file("predictions", day))


def reference_file(params: Params, layout: Layout, days: list[dt.date]) -> Path:
    """The stand-in champion's reference: labeled rows of `days` with its prediction, like train writes."""
    frame = read_training_frame(params, layout, days, close_time(params, days[-1]))
    frame[s.PREDICTION] = frame[s.PRED_PERSISTENCE_GROWTH].astype("float64")
    return write_parquet(frame, layout.root / "reference.parquet")


def check_days(params: Params, layout: Layout, reference: Path, days: list[dt.date]) -> dict:
    """Monitor each day in order from an empty history; verdicts, signals and seconds per day."""
    monitor_history.clear(layout)  # a benchmark's own temporary root
    out = {}
    for day in days:
        started = time.perf_counter()
        result = monitor.run(params, layout, day, reference=FileReference(reference, STAND_IN),
                             log_mlflow=False)
        ev = result["evidence"]
        top = ev["segments"][0] if ev.get("segments") else None
        out[day.isoformat()] = {"verdict": result["verdict"], "drifted": ev.get("drifted"),
                                "signals": ev.get("signals"), "rows": ev.get("rows", {}).get("current"),
                                "top_segment": top and f"{top['segment']}={top['value']} {top['score']:.2f}",
                                "seconds": round(time.perf_counter() - started, 2)}
    return out
