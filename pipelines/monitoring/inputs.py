"""What the monitor reads: the champion's reference, the window's features/predictions/labels, its history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol

import pandas as pd

from pipelines import schema as s
from pipelines.config import Params
from pipelines.datasets import FEATURES_GATE, close_time, gate_refusal, quarantined
from pipelines.errors import StageError
from pipelines.modeling import train_data as td
from pipelines.modeling.model import DelayModel
from pipelines.modeling.training_rows import known_labels
from pipelines.storage import Layout, read_frame


class Reference(Protocol):
    """Where the champion and its drift reference (holdout features + predictions + labels) come from."""

    def champion(self, day: dt.date) -> str | None:
        """The champion version that was live for service date `day` (None before the first one)."""

    def frame(self, version: str) -> pd.DataFrame:
        """The reference frame of a version: schema.FEATURES, BASELINES, LABEL, PREDICTION columns."""

    def run_id(self, version: str) -> str | None:
        """The MLflow run of a version, where monitoring results are logged (None: do not log)."""

    def model(self, version: str) -> DelayModel | None:
        """The version's model, to score the training days added to its reference (None: holdout only)."""


class RegistryReference:
    """The MLflow registry: champion per the alias history at the day's close, reference from its run."""

    def __init__(self, params: Params, layout: Layout) -> None:
        self.params, self.layout = params, layout
        self._reconciled = False

    def champion(self, day: dt.date) -> str | None:
        from pipelines.registry import ledger
        from pipelines.registry.history import (
            champion_at,  # the same point-in-time champion that scored the day
        )

        if not self._reconciled:  # MLflow's aliases agree with the history before it is trusted
            ledger.reconcile(self.layout)
            self._reconciled = True
        return champion_at(self.layout, close_time(self.params, day))

    def frame(self, version: str) -> pd.DataFrame:
        from pipelines.registry import integrity

        return read_frame(integrity.reference_file(self.layout, version))

    def run_id(self, version: str) -> str | None:
        from pipelines.registry import tracking

        return tracking.version_info(self.layout, version)["run_id"]

    def model(self, version: str) -> DelayModel | None:
        from pipelines.registry import integrity

        return integrity.load_version(self.layout, version)


class FileReference:
    """A reference frame in a Parquet file, champion from `since` on (tests, offline analysis)."""

    def __init__(self, path: str | Path, version: str, since: dt.date | None = None) -> None:
        self.path, self.version, self.since = Path(path), version, since

    def champion(self, day: dt.date) -> str | None:
        return self.version if self.since is None or day >= self.since else None

    def frame(self, version: str) -> pd.DataFrame:
        return read_frame(self.path)

    def run_id(self, version: str) -> str | None:
        return None

    def model(self, version: str) -> DelayModel | None:
        return None


def window_days(params: Params, day: dt.date) -> list[dt.date]:
    """The monitor.window_days service dates ending at `day`, oldest first."""
    return [day - dt.timedelta(days=i) for i in range(params.monitor.window_days - 1, -1, -1)]


def _read_days(layout: Layout, name: str, days: list[dt.date]) -> pd.DataFrame | None:
    frames = [read_frame(p) for d in days if (p := layout.day_file(name, d)).exists()]
    return pd.concat(frames, ignore_index=True) if frames else None


def read_window(params: Params, layout: Layout, days: list[dt.date], version: str | None) -> pd.DataFrame:
    """Features of `days` with the champion's prediction and the label known at the last day's close.

    Only batches the features gate passed, without the rows it quarantined; the days left out and why
    are in `attrs["refused_days"]` (the monitor records them with its decision)."""
    present = [d for d in days if layout.day_file("features", d).exists()]
    refused = {d.isoformat(): why for d in present if (why := gate_refusal(layout, FEATURES_GATE, d))}
    days = [d for d in days if d.isoformat() not in refused]
    features = _read_days(layout, "features", days)
    if features is not None:
        set_aside = set().union(*(quarantined(layout, FEATURES_GATE, d) for d in days))
        features = features[~features[s.DEPARTURE_ID].isin(set_aside)]
    if features is None or features.empty:
        empty = pd.DataFrame(columns=[s.DEPARTURE_ID, *s.FEATURES, *s.BASELINES, s.PREDICTION, s.LABEL])
        empty.attrs["refused_days"] = refused
        return empty
    preds = _read_days(layout, "predictions", days)
    if preds is not None and version is not None:
        preds = preds[preds[s.MODEL_VERSION].astype(str) == str(version)]
        features = features.merge(preds[[s.DEPARTURE_ID, s.PREDICTION]], on=s.DEPARTURE_ID, how="left")
    labels = _read_days(layout, "labels", days)
    if labels is not None:
        as_of = close_time(params, days[-1])
        known = known_labels(labels, as_of)
        features = features.merge(known[[s.DEPARTURE_ID, s.LABEL]], on=s.DEPARTURE_ID, how="left")
    features = features.sort_values(s.DEPARTURE_ID, kind="mergesort").reset_index(drop=True)
    features.attrs["refused_days"] = refused
    return features


def drift_reference(params: Params, layout: Layout, reference: Reference,
                    version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(drift reference, holdout) of the champion: its holdout frame, and for the drift tests that frame
    with the last training days before it, up to monitor.reference_days service dates in all, scored by
    the champion now (a two-day holdout of calm days makes an ordinary heavy day look like drift). Skill
    and the error estimate stay on the holdout alone: in-sample errors are not the model's."""
    holdout = reference.frame(version)
    if holdout.empty or s.SERVICE_DATE not in holdout:
        return holdout, holdout
    dates = sorted(pd.to_datetime(holdout[s.SERVICE_DATE].astype(str)).dt.date.unique())
    extra = params.monitor.reference_days - len(dates)
    model = reference.model(version) if extra > 0 else None
    if model is None:
        return holdout, holdout
    days = [dates[0] - dt.timedelta(days=i) for i in range(extra, 0, -1)]
    train = read_window(params, layout, days, None)
    if train.empty:
        return holdout, holdout
    train = train.reindex(columns=holdout.columns).assign(**{s.PREDICTION: model.predict(train)})
    return pd.concat([train, holdout], ignore_index=True), holdout


def bootstrap_ready(params: Params, layout: Layout, day: dt.date) -> tuple[bool, str]:
    """(True, "") when `train` can run as of the day's close: a full window and a matured holdout."""
    try:
        window, holdout = td.split_days(params, layout, close_time(params, day))
    except StageError as exc:
        return False, str(exc)
    return True, f"window {window[0]}..{window[-1]}, holdout {holdout[0]}..{holdout[-1]}"


def window_size(params: Params, layout: Layout, day: dt.date) -> int:
    """How many training days `train` would use as of the day's close (0 when it could not train)."""
    try:
        return len(td.split_days(params, layout, close_time(params, day))[0])
    except StageError:
        return 0


def post_event_days(params: Params, layout: Layout, start: dt.date, day: dt.date) -> list[dt.date]:
    """Days from the incident start through `day` whose labels all matured by the day's close."""
    as_of = close_time(params, day)
    days = [start + dt.timedelta(days=i) for i in range((day - start).days + 1)]
    return [d for d in days if td.labels_matured(layout, d, as_of)]


def read_history(layout: Layout, day: dt.date) -> list[dict]:
    """The monitor's verdicts of the days before `day`, oldest first (the state database's history)."""
    from pipelines.monitoring import history

    return history.days_before(layout, day)
