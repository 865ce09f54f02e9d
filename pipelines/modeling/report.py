"""What a training run logs beside the model: lineage tags, plots, the holdout reference."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.config import PROJECT_ROOT, Params

TRIGGER_KINDS = ("bootstrap", "warm_up", "drift", "manual")


def git_commit() -> str:
    """HEAD of the project checkout, suffixed `-dirty` when the tree has changes; `unknown` without git."""
    try:
        head = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True, check=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def _plain(value: object) -> object:
    """JSON for what json cannot write itself: dates as ISO text (as params.yaml has them), sets as lists."""
    return value.isoformat() if isinstance(value, dt.date) else list(value)


def params_snapshot(params: Params) -> dict:
    """The full parameter set as plain JSON data (what `reproduce` rebuilds a model from)."""
    return json.loads(json.dumps(dataclasses.asdict(params), default=_plain))


def check_trigger(trigger: dict) -> dict:
    """Validate a trigger: kind bootstrap / warm_up / drift / manual; manual needs a reason."""
    kind = trigger.get("kind")
    if kind not in TRIGGER_KINDS:
        raise ValueError(f"trigger kind must be one of {TRIGGER_KINDS}, got {kind!r}")
    if kind == "manual" and not trigger.get("reason"):
        raise ValueError("a manual retrain needs a reason")
    return trigger


def lineage_tags(*, as_of: dt.datetime, trigger: dict, data_version: str, dvc_version: str | None,
                 train_days: list[dt.date], holdout_days: list[dt.date],
                 rows: dict[str, int]) -> dict[str, str]:
    """Run tags that say what data, code and reason produced a model."""
    tags = {"as_of": as_of.isoformat(), "trigger": trigger["kind"],
            "trigger_reason": str(trigger.get("reason", ""))[:5000],
            "trigger_evidence": json.dumps(trigger.get("evidence", {}), sort_keys=True, default=str)[:5000],
            "data_version": data_version, "git_commit": git_commit(),
            "train_start": train_days[0].isoformat(), "train_end": train_days[-1].isoformat(),
            "holdout_start": holdout_days[0].isoformat() if holdout_days else "",
            "holdout_end": holdout_days[-1].isoformat() if holdout_days else ""}
    if dvc_version:
        tags["dvc_data_version"] = dvc_version
    tags.update({f"rows_{k}": str(v) for k, v in rows.items()})
    return tags


def reference_frame(holdout: pd.DataFrame, pred: np.ndarray) -> pd.DataFrame:
    """Holdout features, baselines, label and the model's prediction: the monitor's drift reference."""
    keep = [c for c in (s.DEPARTURE_ID, s.SERVICE_DATE, s.T_PRED, s.TRAIN_NUMBER, *s.FEATURES, *s.BASELINES,
                        s.LABEL) if c in holdout.columns]
    out = holdout[keep].copy()
    out[s.PREDICTION] = pred
    return out.sort_values(s.DEPARTURE_ID, kind="mergesort").reset_index(drop=True)


def plot_importance(importance: dict[str, float], target: Path) -> Path:
    """Horizontal bar chart of total gain per feature."""
    from matplotlib.figure import Figure  # Figure needs no pyplot state: safe in workers

    names = sorted(importance, key=importance.get)
    fig = Figure(figsize=(7, 5))
    # Fixed margins (room for the longest feature name): tight_layout would draw the figure twice.
    fig.subplots_adjust(left=0.3, right=0.96, top=0.93, bottom=0.1)
    ax = fig.add_subplot()
    ax.barh(names, [importance[n] for n in names])
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance")
    fig.savefig(target, dpi=80, metadata={"Software": None})
    return target


def plot_residuals(label: np.ndarray, pred: np.ndarray, target: Path) -> Path:
    """Predicted vs actual delay and the residual histogram on the holdout."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.95, wspace=0.22)
    left, right = fig.subplots(1, 2)
    # A density of points, not a scatter: readable (and fast) at a hundred thousand holdout rows.
    left.hexbin(label, pred, gridsize=60, bins="log", mincnt=1, cmap="viridis")
    hi = float(np.nanmax(np.concatenate([label, pred, [1.0]])))
    left.plot([0, hi], [0, hi], color="grey", linewidth=1)
    left.set_xlabel("actual arrival delay, min")
    left.set_ylabel("predicted, min")
    right.hist(pred - label, bins=60)
    right.set_xlabel("residual (predicted - actual), min")
    fig.savefig(target, dpi=80, metadata={"Software": None})
    return target
