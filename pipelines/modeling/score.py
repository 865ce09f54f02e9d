"""Stage `score`: predict the arrival delay of a service date's decided departures with the champion.

Which model scores a day is fixed by the alias history, not by whatever the alias says today: the
champion as of the day's close time (the last champion move at or before it), and in shadow the first
champion ever promoted up to then. So re-running a day gives identical bytes even after later
promotions, and a backfill scores each day with the model that was live for it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from typing import Any

import pandas as pd
import pyarrow as pa

from pipelines import schema as s
from pipelines.cli_args import add_day_list_arguments, day_list
from pipelines.config import Params
from pipelines.datasets import FEATURES_GATE, close_time, gate_refusal, quarantined
from pipelines.errors import StageError
from pipelines.registry import integrity, ledger
from pipelines.registry.history import champions_at
from pipelines.storage import Layout, read_frame, write_parquet


def prediction_ids(departure_ids: pd.Series, version: str) -> list[str]:
    """Stable id of a prediction: the departure and the model version that scored it."""
    return [hashlib.sha1(f"{d}|{version}".encode()).hexdigest()[:16] for d in departure_ids]


def score_frame(features: pd.DataFrame, champion: Any, version: str, shadow: Any,
                shadow_version: str) -> pa.Table:
    """Predictions of both models for every feature row, sorted by departure id."""
    frame = features.sort_values(s.DEPARTURE_ID, kind="stable").reset_index(drop=True)
    out = pd.DataFrame({
        s.PREDICTION_ID: prediction_ids(frame[s.DEPARTURE_ID], version),
        s.DEPARTURE_ID: frame[s.DEPARTURE_ID].astype("string"),
        s.SERVICE_DATE: frame[s.SERVICE_DATE],
        s.T_PRED: frame[s.T_PRED],
        s.MODEL_VERSION: version,
        s.PREDICTION: champion.predict(frame),
        s.SHADOW_MODEL_VERSION: shadow_version,
        s.SHADOW_PREDICTION: shadow.predict(frame) if shadow_version != version else champion.predict(frame),
    })
    return pa.Table.from_pandas(out, schema=s.PREDICTIONS_SCHEMA, preserve_index=False)


def run(params: Params, layout: Layout, day: dt.date) -> dict:
    """Score service date `day`; writes predictions/<day>.parquet (nothing when no champion was live).
    Only a features batch the validation gate passed is scored, without the rows it quarantined."""
    features_file = layout.day_file("features", day)
    if not features_file.exists():
        raise StageError(f"score: no features for {day} ({features_file}); "
                         f"run build_dataset for that day first")
    instant = close_time(params, day)
    ledger.reconcile(layout)  # MLflow's aliases agree with the history before it is trusted
    version, shadow_version = champions_at(layout, instant)
    if version is None:
        return {"day": day.isoformat(), "rows": 0, "model_version": None,
                "reason": f"no champion promoted at or before {instant.isoformat()}"}
    refusal = gate_refusal(layout, FEATURES_GATE, day)
    if refusal:
        raise StageError(f"score {day}: not scoring a batch the features gate did not pass: {refusal}")
    features = read_frame(features_file)
    set_aside = quarantined(layout, FEATURES_GATE, day)   # rows the gate quarantined are not scored
    features = features[~features[s.DEPARTURE_ID].isin(set_aside)]
    champion = integrity.load_version(layout, version)
    shadow = champion if shadow_version == version else integrity.load_version(layout, shadow_version)
    table = score_frame(features, champion, version, shadow, shadow_version)
    target = write_parquet(table, layout.day_file("predictions", day))
    return {"day": day.isoformat(), "rows": table.num_rows, "quarantined": len(set_aside),
            "model_version": version, "shadow_model_version": shadow_version, "predictions": str(target)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast score`."""
    add_day_list_arguments(parser, "score")


def main(args: argparse.Namespace, params: Params) -> dict:
    """Score the chosen service dates."""
    layout = Layout(params, args.home)
    days = day_list(args, "score")
    return {d.isoformat(): run(params, layout, d) for d in days}
