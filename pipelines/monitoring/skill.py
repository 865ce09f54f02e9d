"""Daily skill of the live champion, of the first champion (shadow) and of the non-learned baselines.

One service date, on the labels known at `as_of`. Every figure is None until all of that day's labels
have matured (the maturity rule of train/evaluate: `train_data.labels_matured`), so a day is never
scored on the early, short-delay trains alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.config import Params
from pipelines.datasets import FEATURES_GATE, gate_refusal, is_closed, quarantined
from pipelines.modeling.train_data import labels_matured
from pipelines.modeling.training_rows import known_labels
from pipelines.storage import Layout, read_frame

DIGITS = 4  # rounded so the loop summary is byte-identical across runs and platforms
SCORE_KEYS = ("n_labeled", "n_board_forecast", "champion_version", "first_version", "mae_champion",
              "mae_without_retraining", "mae_persistence", "mae_board_forecast", "skill_champion",
              "skill_first")


def _mae(pred: pd.Series, label: pd.Series) -> float | None:
    """Mean absolute error in minutes, None on no rows."""
    if len(label) == 0:
        return None
    return round(float(np.mean(np.abs(pred.to_numpy("float64") - label.to_numpy("float64")))), DIGITS)


def skill(mae: float | None, mae_persistence: float | None, digits: int = DIGITS) -> float | None:
    """1 - mae / mae_persistence: the share of the persistence baseline's error a model removes.

    The one definition of skill: daily scores, the loop, the demo and the monitor's window check.
    """
    if mae is None or mae_persistence is None or not mae_persistence > 0:
        return None
    return round(1.0 - mae / mae_persistence, digits)


def labeled_rows(params: Params, layout: Layout, day: dt.date, as_of: dt.datetime,
                 where: Mapping[str, str | Collection[str]] | None = None) -> pd.DataFrame:
    """Labeled rows of `day` known at as_of, with the day's predictions; `where` (column -> a value or a
    collection of values) filters."""
    feats = read_frame(layout.day_file("features", day))
    feats = feats[~feats[s.DEPARTURE_ID].isin(quarantined(layout, FEATURES_GATE, day))]
    for column, value in (where or {}).items():
        values = [value] if isinstance(value, str) else list(value)
        feats = feats[feats[column].astype("string").isin(values)]
    if s.BOARD_FORECAST_AVAILABLE not in feats:  # older partitions: the flag is "the board showed one"
        feats[s.BOARD_FORECAST_AVAILABLE] = feats[s.DEST_BOARD_FORECAST].notna()
    feats = feats[[s.DEPARTURE_ID, s.PRED_PERSISTENCE, s.PRED_BOARD_FORECAST, s.BOARD_FORECAST_AVAILABLE]]
    labels = read_frame(layout.day_file("labels", day))
    known = known_labels(labels, as_of)
    rows = feats.merge(known[[s.DEPARTURE_ID, s.LABEL]], on=s.DEPARTURE_ID, how="inner")
    predictions = layout.day_file("predictions", day)
    if predictions.exists():
        scored = read_frame(predictions, columns=[s.DEPARTURE_ID, s.MODEL_VERSION, s.PREDICTION,
                                                       s.SHADOW_MODEL_VERSION, s.SHADOW_PREDICTION])
        # inner: models and baselines are compared on exactly the same rows
        rows = rows.merge(scored, on=s.DEPARTURE_ID, how="inner")
    return rows.sort_values(s.DEPARTURE_ID, kind="mergesort").reset_index(drop=True)


def _only(values: pd.Series) -> str | None:
    """The single model version of a column (None when absent; the first when several)."""
    found = sorted(values.dropna().astype(str).unique())
    return found[0] if found else None


def score_rows(rows: pd.DataFrame) -> dict:
    """The daily figures of labeled rows (with or without prediction columns)."""
    label = rows[s.LABEL]
    board = rows[s.BOARD_FORECAST_AVAILABLE].astype(bool)
    out = {"n_labeled": int(len(rows)), "n_board_forecast": int(board.sum()),
           "mae_persistence": _mae(rows[s.PRED_PERSISTENCE], label),
           "mae_board_forecast": _mae(rows.loc[board, s.PRED_BOARD_FORECAST], label[board]),
           "champion_version": None, "first_version": None,
           "mae_champion": None, "mae_without_retraining": None}
    if s.PREDICTION in rows:
        out.update(champion_version=_only(rows[s.MODEL_VERSION]),
                   first_version=_only(rows[s.SHADOW_MODEL_VERSION]),
                   mae_champion=_mae(rows[s.PREDICTION], label),
                   mae_without_retraining=_mae(rows[s.SHADOW_PREDICTION], label))
    out["skill_champion"] = skill(out["mae_champion"], out["mae_persistence"])
    out["skill_first"] = skill(out["mae_without_retraining"], out["mae_persistence"])
    return out


def daily_scores(params: Params, layout: Layout, day: dt.date, as_of: dt.datetime,
                 where: Mapping[str, str | Collection[str]] | None = None) -> dict:
    """Figures of service date `day` on the labels matured at `as_of` (all None before maturity).

    mae_champion: the champion live that day (predictions/<day>.parquet); mae_without_retraining: the
    first champion ever promoted, scored in shadow; baselines on the same rows; skill = 1 - mae /
    mae_persistence. Model figures are None on a day no champion scored. `where` (column -> value,
    e.g. {"corridor": "Rhein-Main"}) restricts the figures to one segment.
    """
    out = {"day": day.isoformat(), "as_of": as_of.isoformat(), "matured": False,
           **dict.fromkeys(SCORE_KEYS)}
    if not is_closed(params, day, as_of) or not labels_matured(layout, day, as_of):
        return out
    if not layout.day_file("features", day).exists():
        return out
    if refusal := gate_refusal(layout, FEATURES_GATE, day):   # a failed batch is not judged
        return {**out, "refused": refusal}
    out.update(matured=True, **score_rows(labeled_rows(params, layout, day, as_of, where)))
    return out


def pooled_skill(records: list[dict], mae_key: str = "mae_champion") -> float | None:
    """Skill over daily records: 1 - sum(n * mae) / sum(n * mae_persistence); None when none has it."""
    used = [r for r in records if r.get(mae_key) is not None and r.get("mae_persistence") is not None
            and r.get("n_labeled")]
    if not used:
        return None
    model = sum(r[mae_key] * r["n_labeled"] for r in used)
    persistence = sum(r["mae_persistence"] * r["n_labeled"] for r in used)
    return skill(model / sum(r["n_labeled"] for r in used), persistence / sum(r["n_labeled"] for r in used))
