"""Which service dates train and evaluate a model as of an instant, and the labeled rows they hold."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from pipelines import schema as s
from pipelines.config import Params, Train
from pipelines.datasets import closed_days as closed_among
from pipelines.errors import StageError
from pipelines.modeling.training_rows import read_training_table
from pipelines.storage import Layout, read_table


def closed_days(params: Params, layout: Layout, as_of: dt.datetime) -> list[dt.date]:
    """Service dates with a features partition whose close time is at or before as_of."""
    folder = layout.dataset("features")
    days = sorted(dt.date.fromisoformat(p.stem) for p in folder.glob("????-??-??.parquet"))
    return closed_among(params, days, as_of)


def labels_matured(layout: Layout, day: dt.date, as_of: dt.datetime) -> bool:
    """True when day's labels exist and every one of them was known at as_of."""
    path = layout.day_file("labels", day)
    if not path.exists():
        return False
    known = read_table(path, columns=[s.LABELED_AT]).column(s.LABELED_AT).to_pandas()
    return bool(known.isna().sum() == 0 and (known <= pd.Timestamp(as_of)).all())


def holdout_days(params: Params, layout: Layout, as_of: dt.datetime) -> list[dt.date]:
    """The train.holdout_days most recent closed service dates whose labels all matured by as_of."""
    matured = [d for d in closed_days(params, layout, as_of) if labels_matured(layout, d, as_of)]
    holdout = matured[-params.train.holdout_days:] if params.train.holdout_days else []
    if len(holdout) < params.train.holdout_days:
        raise StageError(f"only {len(matured)} service dates have matured labels as of "
                         f"{as_of:%Y-%m-%dT%H:%MZ}; the holdout needs {params.train.holdout_days}: "
                         f"run build_features for more days")
    return holdout


def event_start(trigger: dict) -> dt.date | None:
    """The latest drift-event start in a drift trigger's evidence (one or {day: evidence}), else None."""
    evidence = trigger.get("evidence") if trigger.get("kind") == "drift" else None
    if not isinstance(evidence, dict):
        return None
    per_day = (v.get("event_start") for v in evidence.values() if isinstance(v, dict))
    found = [evidence.get("event_start"), *per_day]
    starts = [dt.date.fromisoformat(d) for d in found if isinstance(d, str)]
    return max(starts) if starts else None


def split_days(params: Params, layout: Layout, as_of: dt.datetime,
               holdout_from: dt.date | None = None) -> tuple[list[dt.date], list[dt.date]]:
    """(training window, holdout): the holdout is the most recent matured days, the window precedes it.

    `holdout_from` (a drift event's start) refuses a holdout that begins before it: the model must be
    judged on post-event data.
    """
    days = closed_days(params, layout, as_of)
    holdout = holdout_days(params, layout, as_of)
    if holdout_from and holdout and holdout[0] < holdout_from:
        raise StageError(f"holdout {holdout[0]}..{holdout[-1]} begins before the drift event of "
                         f"{holdout_from}: "
                         f"retrain once {params.train.holdout_days} post-event days have matured labels")
    before = [d for d in days if not holdout or d < holdout[0]]
    window = before[-params.train.window_days:]
    if len(window) < params.train.min_days:
        raise StageError(f"training window has {len(window)} closed service dates before the holdout, "
                         f"train.min_days is {params.train.min_days}: build more days or lower it")
    return window, holdout


def _with_label(table: pa.Table) -> pa.Table:
    """Rows whose label is a number (a null or NaN label is dropped); no copy when all are."""
    label = table[s.LABEL]
    if label.null_count == 0 and not pc.any(pc.is_nan(label)).as_py():
        return table
    return table.filter(pc.invert(pc.is_nan(label)))  # is_nan(null) is null: filtered out too


def read_frame(params: Params, layout: Layout, days: list[dt.date], as_of: dt.datetime) -> pd.DataFrame:
    """Labeled rows of `days` as of as_of, sorted by prediction time then departure id (stable model)."""
    table, _ = read_training_table(params, layout, days, as_of)
    return _with_label(table).to_pandas()


def read_model_rows(params: Params, layout: Layout, days: list[dt.date], as_of: dt.datetime) -> pa.Table:
    """What training needs of read_frame's rows: features, label and service date, as Arrow (no pandas
    copy)."""
    columns = [*s.FEATURES, s.LABEL, s.SERVICE_DATE]
    table, _ = read_training_table(params, layout, days, as_of, columns=columns)
    return _with_label(table)


def recency_weights(rows: pa.Table, event_start: dt.date | None, train: Train) -> np.ndarray | None:
    """Row weights of a drift retrain: train.post_event_weight for rows on/after the event's start, 1
    before it, so the new regime is learned from its first days; None (equal weights) otherwise."""
    if event_start is None or train.post_event_weight == 1.0:
        return None
    after = pc.greater_equal(rows[s.SERVICE_DATE], pa.scalar(event_start, pa.date32()))
    return np.where(after.to_numpy(zero_copy_only=False), train.post_event_weight, 1.0)


def validation_split(rows: pa.Table, share: float) -> tuple[pa.Table, pa.Table]:
    """(fit, validation): the validation slice is the latest `share` of rows by prediction time."""
    cut = rows.num_rows - int(round(rows.num_rows * share))
    return rows.slice(0, cut), rows.slice(cut)


def data_version(layout: Layout, days: list[dt.date]) -> str:
    """Content hash of the features and labels partitions of `days` (names and bytes)."""
    digest = hashlib.sha256()
    for name in ("features", "labels"):
        for day in days:
            path = layout.day_file(name, day)
            if path.exists():
                digest.update(f"{name}/{path.name}:".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def dvc_data_version(params: Params, layout: Layout) -> str | None:
    """md5 of the features and labels outputs in dvc.lock when the data root is a DVC workspace."""
    lock = Path(layout.root).parent / "dvc.lock"
    if not lock.exists():
        return None
    wanted = {f"{layout.root.name}/{params.paths.features}", f"{layout.root.name}/{params.paths.labels}"}
    found = {}
    for stage in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
        for out in stage.get("outs", []):
            if out.get("path") in wanted:
                found[out["path"]] = out.get("md5")
    return ",".join(f"{k}={v}" for k, v in sorted(found.items())) or None
