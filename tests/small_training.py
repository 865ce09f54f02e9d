"""What the model tests share: small single-threaded training settings, day numbering, a synthetic store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from benchmarks.bench_train import write_days
from pipelines.config import Params, load_params
from pipelines.storage import Layout

FIRST = dt.date(2025, 9, 1)


def small_training(window_days: int, min_days: int, rounds: int, early_stop: int = 10,
                   holdout_days: int = 1, **more: object) -> dict:
    """Overrides for load_params: a short window and few boosting rounds on one LightGBM thread, and no
    DVC copy of the inputs (two dvc commands per training; tests/registry/test_inputs.py turns it on)."""
    one_thread = {**load_params().train.lgb_params, "num_threads": 1}
    return {"train.lgb_params": one_thread, "train.window_days": window_days, "train.min_days": min_days,
            "train.holdout_days": holdout_days, "train.num_boost_round": rounds,
            "train.early_stopping_rounds": early_stop, "lineage.version_inputs": False, **more}


SMALL_SERVE = small_training(4, 3, 60)   # the serving and live tests' champion


def day(n: int) -> dt.date:
    """Service date number n (1-based) from FIRST."""
    return FIRST + dt.timedelta(days=n - 1)


@contextmanager
def synthetic_store(tmp_path_factory: pytest.TempPathFactory, name: str, overrides: dict, n_days: int,
                    rows: int, first: dt.date = FIRST) -> Iterator[tuple[Params, Layout, dt.datetime]]:
    """A fresh data root with n_days of synthetic features and labels and its own embedded MLflow store
    (MLFLOW_TRACKING_URI unset while it is open); yields (params, layout, instant every day has closed)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        params = load_params(overrides=overrides)
        layout = Layout(params, tmp_path_factory.mktemp(name) / "home")
        yield params, layout, write_days(params, layout, first, n_days, rows)


def promote_passed(params: Params, layout: Layout, version: str, champion: str | None,
                   as_of: dt.datetime) -> dict:
    """Promote `version` over `champion` with a passed gate decision (the test stands in for evaluate)."""
    from pipelines.registry import promote

    return promote.run(params, layout, {"version": version, "champion_version": champion, "passed": True,
                                        "reason": "test", "as_of": as_of.isoformat(), "dry_run": False})
