"""Error metrics of delay predictions, overall and per train class."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines import schema as s

WITHIN_MIN = 5.0  # "on time" for passengers: DB counts a stop punctual below 6 minutes late


def regression_metrics(label: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, p90 absolute error and share within 5 minutes; NaN everywhere when empty."""
    label = np.asarray(label, dtype="float64")
    pred = np.asarray(pred, dtype="float64")
    err = np.abs(pred - label)
    if err.size == 0:
        nan = math.nan
        return {"mae": nan, "rmse": nan, "p90_abs_error": nan, "within_5min": nan, "n": 0}
    return {"mae": float(err.mean()), "rmse": float(np.sqrt(np.mean(err**2))),
            "p90_abs_error": float(np.quantile(err, 0.9)), "within_5min": float(np.mean(err <= WITHIN_MIN)),
            "n": int(err.size)}


def metrics_by(frame: pd.DataFrame, pred: np.ndarray, column: str = s.CATEGORY) -> dict[str, dict]:
    """regression_metrics per value of `column` (train class by default; missing: OTHER), sorted."""
    pred = np.asarray(pred, dtype="float64")
    groups = frame[column].astype("string").fillna("OTHER").to_numpy()
    label = frame[s.LABEL].to_numpy(dtype="float64")
    return {str(c): regression_metrics(label[groups == c], pred[groups == c]) for c in sorted(set(groups))}


def score(frame: pd.DataFrame, pred: np.ndarray, segments: tuple[str, ...] = ()) -> dict:
    """Overall metrics plus a `by_class` block (and `by_<column>` for each of `segments`) on labeled rows."""
    out: dict = regression_metrics(frame[s.LABEL].to_numpy(dtype="float64"), pred)
    out["by_class"] = metrics_by(frame, pred)
    for column in segments:
        out[f"by_{column}"] = metrics_by(frame, pred, column)
    return out


def score_baselines(frame: pd.DataFrame) -> dict[str, dict]:
    """score() of each non-learned baseline column (schema.BASELINES) on the same rows."""
    return {col: score(frame, frame[col].to_numpy(dtype="float64")) for col in s.BASELINES}


def flatten(prefix: str, metrics: dict) -> dict[str, float]:
    """MLflow-style flat keys: `holdout_mae`, `holdout_ICE_mae`; NaN values are dropped."""
    flat = {}
    for key, value in metrics.items():
        if key == "by_class":
            for cls, sub in value.items():
                flat.update(flatten(f"{prefix}_{cls}", sub))
        elif isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
            flat[f"{prefix}_{key}"] = float(value)
    return flat
