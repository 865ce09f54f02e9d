"""A label-free estimate of the champion's MAE for days whose arrivals are not known yet.

Direct loss estimation: on the champion's reference (its holdout: features, prediction and the true
delay) a small LightGBM model learns the expected absolute error of a prediction from what is known
when it is made (the features, the prediction itself and the board's forecast). Averaged over a day's
predicted departures it estimates that day's MAE before its labels mature. It sees only what the
reference covered: an error the champion never made on its holdout (a new kind of disruption) is not
predicted, so the estimate is an early hint beside the realized MAE, not a replacement for it.

NannyML 0.13.1 implements the same idea, but installing it here would downgrade LightGBM 4.7 to 4.5 and
add 25 packages (XGBoost, NVIDIA NCCL, Google Cloud storage, a usage-analytics client): the small
version lives in this module instead.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines import schema as s

INPUTS = (*s.FEATURE_NUMERIC, *s.FEATURE_CATEGORICAL, s.PREDICTION, s.PRED_BOARD_FORECAST)
MIN_REFERENCE_ROWS = 200        # fewer labeled reference rows: no estimate
SETTINGS = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
            "feature_fraction": 0.9, "seed": 3, "deterministic": True, "num_threads": 1, "verbose": -1}
ROUNDS = 150
# Squared loss on the absolute error: its minimiser is the conditional *mean* of |error|, which averages
# to the MAE; an L1 objective would learn the median (for exponential-like errors about 0.7x the mean).


def _inputs(frame: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """The estimator's inputs: numbers as float, categories over the reference's values (others NaN)."""
    out = pd.DataFrame(index=frame.index)
    for column in INPUTS:
        values = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        if column in categories:
            out[column] = pd.Categorical(values.astype("string"), categories=categories[column])
        else:
            out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
    return out


class LossEstimator:
    """Expected absolute error per row, fitted on a reference with labels and predictions."""

    def __init__(self, reference: pd.DataFrame) -> None:
        import lightgbm as lgb

        if not {s.LABEL, s.PREDICTION} <= set(reference.columns):
            reference = reference.iloc[:0].assign(**{s.LABEL: [], s.PREDICTION: []})
        known = reference[reference[s.LABEL].notna() & reference[s.PREDICTION].notna()]
        known = known.sort_values(s.DEPARTURE_ID, kind="mergesort") if s.DEPARTURE_ID in known else known
        self.rows = len(known)
        self.booster = None
        if self.rows < MIN_REFERENCE_ROWS:
            return
        self.categories = {c: sorted(known[c].dropna().astype(str).unique()) for c in s.FEATURE_CATEGORICAL
                           if c in known}
        target = (known[s.LABEL] - known[s.PREDICTION]).abs().to_numpy("float64")
        data = lgb.Dataset(_inputs(known, self.categories), target, free_raw_data=True)
        self.booster = lgb.train(SETTINGS, data, num_boost_round=ROUNDS)
        self.reference_mae = float(target.mean())

    def estimate(self, frame: pd.DataFrame) -> float | None:
        """Estimated MAE over the rows of `frame` that carry a prediction (None without a model or rows)."""
        rows = frame[frame[s.PREDICTION].notna()] if s.PREDICTION in frame else frame.iloc[:0]
        if self.booster is None or rows.empty:
            return None
        return float(np.clip(self.booster.predict(_inputs(rows, self.categories)), 0, None).mean())


def estimated_performance(reference: pd.DataFrame, current: pd.DataFrame, ratio_threshold: float) -> dict:
    """The window's estimated MAE beside the reference's MAE and the realized MAE of its labeled rows;
    `raised` when the estimate exceeds `ratio_threshold` x the reference's (0: the signal is off)."""
    estimator = LossEstimator(reference)
    estimate = estimator.estimate(current)
    labeled = current[current[s.LABEL].notna() & current[s.PREDICTION].notna()] \
        if {s.LABEL, s.PREDICTION} <= set(current.columns) else current.iloc[:0]
    realized = float((labeled[s.LABEL] - labeled[s.PREDICTION]).abs().mean()) if len(labeled) else None
    reference_mae = getattr(estimator, "reference_mae", None)
    ratio = estimate / reference_mae if estimate is not None and reference_mae else None
    return {"estimated_mae": _round(estimate), "reference_mae": _round(reference_mae),
            "realized_mae": _round(realized), "n_labeled": len(labeled), "reference_rows": estimator.rows,
            "ratio": _round(ratio), "threshold": ratio_threshold,
            "raised": bool(ratio_threshold > 0 and ratio is not None and ratio > ratio_threshold)}


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 6)
