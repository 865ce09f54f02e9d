"""Served performance: how the live predictions (`railcast live`) did once their labels matured.

The live stream holds what was actually served while the trains ran; the daily `score` stage scores
the same departures afterwards. Both use the same features, so they differ only where the champion
moved during the day or a live decision was revised. The monitor reports this beside its window.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipelines import schema as s
from pipelines.modeling.training_rows import known_labels
from pipelines.monitoring.skill import skill
from pipelines.serving import stream
from pipelines.storage import Layout, read_frame


def _mae(pred: pd.Series, label: pd.Series) -> float | None:
    known = pred.notna()
    return round(float((pred[known] - label[known]).abs().mean()), 6) if known.any() else None


def live_performance(layout: Layout, days: list[dt.date], as_of: dt.datetime) -> dict:
    """MAE of the champion's live predictions of `days` on the labels known at `as_of`, beside
    persistence and the destination board's forecast on the same departures."""
    parts = [stream.latest(stream.read_day(layout, d)).to_pandas() for d in days]
    live = pd.concat([p for p in parts if not p.empty] or [s.LIVE_SCHEMA.empty_table().to_pandas()])
    live = live[live[s.ROLE] == "champion"]
    labels = [read_frame(f) for d in days if (f := layout.day_file("labels", d)).exists()]
    out = {"n_predicted": int(len(live)), "n_labeled": 0, "mae": None, "mae_persistence": None,
           "mae_board_forecast": None, "skill": None, "model_versions": sorted(set(live[s.MODEL_VERSION]))}
    if live.empty or not labels:
        return out
    known = known_labels(pd.concat(labels, ignore_index=True), as_of)
    both = live.merge(known[[s.DEPARTURE_ID, s.LABEL]], on=s.DEPARTURE_ID)
    if both.empty:
        return out
    out.update(n_labeled=int(len(both)), mae=_mae(both[s.PREDICTION], both[s.LABEL]),
               mae_persistence=_mae(both[s.PRED_PERSISTENCE], both[s.LABEL]),
               mae_board_forecast=_mae(both[s.PRED_BOARD_FORECAST], both[s.LABEL]))
    out["skill"] = skill(out["mae"], out["mae_persistence"])
    return out
