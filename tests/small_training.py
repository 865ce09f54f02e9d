"""Small, single-threaded training settings the model tests share (params overrides), and day numbering."""

from __future__ import annotations

import datetime as dt

from pipelines.config import load_params

FIRST = dt.date(2025, 9, 1)


def small_training(window_days: int, min_days: int, rounds: int, early_stop: int = 10,
                   holdout_days: int = 1, **more: object) -> dict:
    """Overrides for load_params: a short window and few boosting rounds on one LightGBM thread."""
    one_thread = {**load_params().train.lgb_params, "num_threads": 1}
    return {"train.lgb_params": one_thread, "train.window_days": window_days, "train.min_days": min_days,
            "train.holdout_days": holdout_days, "train.num_boost_round": rounds,
            "train.early_stopping_rounds": early_stop, **more}


def day(n: int) -> dt.date:
    """Service date number n (1-based) from FIRST."""
    return FIRST + dt.timedelta(days=n - 1)
