"""Stage `train`: a LightGBM challenger on the sliding window before the matured holdout, logged to MLflow."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.cli_args import add_as_of_arguments, as_of_from_args
from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.modeling import metrics as m
from pipelines.modeling import report as tr
from pipelines.modeling import train_data as td
from pipelines.modeling.model import (
    DelayModel,
    build_vocabularies,
    feature_importance,
    feature_matrix,
    file_sha256,
    fit_booster,
)
from pipelines.storage import Layout, write_json, write_parquet

CHALLENGER_DIR = "challenger"  # models/challenger/: the last model file trained under this data root


@dataclass(frozen=True)
class Fitted:
    """A trained model with the days and rows it came from."""
    model: DelayModel
    train_days: list[dt.date]
    holdout_days: list[dt.date]
    rows: dict[str, int]
    holdout: pd.DataFrame


def fit(params: Params, layout: Layout, as_of: dt.datetime, holdout_from: dt.date | None = None) -> Fitted:
    """Window and holdout as of `as_of` (holdout on/after `holdout_from`, a drift event's start, whose
    rows are weighted train.post_event_weight), read rows, train."""
    train_days, holdout_days = td.split_days(params, layout, as_of, holdout_from)
    rows = td.read_model_rows(params, layout, train_days, as_of)
    if rows.num_rows == 0:
        raise StageError(f"no labeled rows in the training window {train_days[0]}..{train_days[-1]} "
                         f"as of {as_of.isoformat()}: check build_features and labels")
    fit_rows, valid_rows = td.validation_split(rows, params.train.validation_share)
    vocab = build_vocabularies(fit_rows)
    booster = fit_booster(feature_matrix(fit_rows, vocab), fit_rows[s.LABEL].to_numpy(),
                          feature_matrix(valid_rows, vocab), valid_rows[s.LABEL].to_numpy(),
                          params.train, td.recency_weights(fit_rows, holdout_from, params.train))
    holdout = td.read_frame(params, layout, holdout_days, as_of)
    counts = {"train": fit_rows.num_rows, "validation": valid_rows.num_rows, "holdout": len(holdout)}
    return Fitted(DelayModel(booster, vocab), train_days, holdout_days, counts, holdout)


def holdout_metrics(model: DelayModel, holdout: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """Predictions on the holdout and the model's and baselines' scores on those same rows."""
    pred = model.predict(holdout)
    return pred, {"model": m.score(holdout, pred), **m.score_baselines(holdout)}


def _artifacts(fitted: Fitted, pred: np.ndarray, params: Params, trigger: dict,
               folder: Path) -> dict[str, Path]:
    """Write the run's side files into `folder`; map artifact paths to them."""
    (folder / "plots").mkdir()
    (folder / "reference").mkdir()
    (folder / "lineage").mkdir()
    (folder / "model_files").mkdir()
    label = fitted.holdout[s.LABEL].to_numpy("float64")
    files = {
        "plots/feature_importance.png": tr.plot_importance(feature_importance(fitted.model.booster),
                                                           folder / "plots" / "feature_importance.png"),
        "plots/residuals.png": tr.plot_residuals(label, pred, folder / "plots" / "residuals.png"),
        "reference/holdout.parquet": write_parquet(tr.reference_frame(fitted.holdout, pred),
                                                   folder / "reference" / "holdout.parquet"),
        "lineage/params.json": write_json(tr.params_snapshot(params), folder / "lineage" / "params.json"),
        "lineage/trigger.json": write_json(trigger, folder / "lineage" / "trigger.json"),
        "model_files/vocabularies.json": write_json(fitted.model.vocab,
                                                    folder / "model_files" / "vocabularies.json"),
    }
    return files


def headline(scores: dict) -> dict[str, float]:
    """The numbers DVC metrics and the CLI show: model and baseline MAE on the holdout."""
    out = {"mae": scores["model"]["mae"], "rmse": scores["model"]["rmse"],
           "p90_abs_error": scores["model"]["p90_abs_error"], "within_5min": scores["model"]["within_5min"]}
    for col in s.BASELINES:
        out[f"mae_{col.removeprefix('pred_')}"] = scores[col]["mae"]
    return out


def run_metrics(scores: dict, fitted: Fitted) -> dict[str, float]:
    """Flat MLflow metrics: model and baselines on the holdout, overall and per class."""
    metrics = m.flatten("holdout", scores["model"])
    for col in s.BASELINES:
        metrics.update(m.flatten(f"holdout_{col}", scores[col]))
    metrics["num_trees"] = float(fitted.model.booster.current_iteration())
    return metrics


def _settings(params: Params) -> dict:
    """The training settings, flat: MLflow params of the run and part of the request's identity."""
    return {**{f"lgb.{k}": v for k, v in params.train.lgb_params.items()},
            **{f"train.{k}": v for k, v in vars(params.train).items() if k != "lgb_params"}}


def _register(layout: Layout, key: str, sha: str, log: Callable[[], dict]) -> dict:
    """The version of request `key`: the one an earlier try registered (same data, so the same bytes),
    else a new one logged by `log()` after closing the runs earlier tries left unfinished."""
    from pipelines.registry import requests, tracking

    done = requests.version_for(layout, key)
    if done is None:
        requests.close_abandoned_runs(layout, key)
        done = log()
    elif done["tags"].get(tracking.SHA_TAG) != sha:
        held = str(done["tags"].get(tracking.SHA_TAG))[:12]
        raise StageError(f"version {done['version']} of this request holds model {held}, this try trained "
                         f"{sha[:12]} from the same data: training is not deterministic")
    stored_sha = file_sha256(tracking.model_file(layout, done["version"]))
    if stored_sha != sha:
        raise StageError(f"model file in the registry ({stored_sha[:12]}) differs from the trained one "
                         f"({sha[:12]}): the artifact store rewrote it")
    return {"run_id": done["run_id"], "version": done["version"]}


def run(params: Params, layout: Layout, as_of: dt.datetime, trigger: dict) -> dict:
    """Train, save models/challenger/, log the run and register a version tagged with its SHA-256.

    One version per request (as_of, trigger, settings and the data's version): a retry after a failure
    anywhere (the tracking server down mid-run, say) trains again and returns the version an earlier
    try registered, if one did, instead of registering another.
    """
    from pipelines.registry import integrity, requests, tracking

    tr.check_trigger(trigger)
    fitted = fit(params, layout, as_of, td.event_start(trigger))  # a drift retrain holds out post-event days
    model_path = fitted.model.save(layout.dataset("models") / CHALLENGER_DIR)
    sha = file_sha256(model_path)
    pred, scores = holdout_metrics(fitted.model, fitted.holdout)
    data_version = td.data_version(layout, fitted.train_days + fitted.holdout_days)
    tags = tr.lineage_tags(as_of=as_of, trigger=trigger, data_version=data_version,
                           dvc_version=td.dvc_data_version(params, layout), train_days=fitted.train_days,
                           holdout_days=fitted.holdout_days, rows=fitted.rows)
    settings = _settings(params)
    key = requests.request_key(as_of.isoformat(), trigger, {**settings, "data_version": data_version})
    summary = {**headline(scores), "rows": fitted.rows, "as_of": as_of.isoformat(),
               "trigger": trigger["kind"]}
    tags = {**tags, tracking.SHA_TAG: sha, requests.REQUEST_TAG: key}
    example = feature_matrix(fitted.holdout.head(5), fitted.model.vocab)
    with tempfile.TemporaryDirectory(prefix="railcast-train-") as tmp:
        files = _artifacts(fitted, pred, params, trigger, Path(tmp))
        tags.update(integrity.hash_tags(files))   # every load checks them (registry.integrity)
        logged = _register(layout, key, sha, lambda: tracking.log_training(
            layout, run_name=f"train-{as_of:%Y%m%dT%H%M}", params=settings,
            metrics=run_metrics(scores, fitted), artifacts=files, tags=tags, booster=fitted.model.booster,
            example=example))
    if params.lineage.version_inputs:  # after registration: a retry finds the version and completes this
        from pipelines.registry import inputs

        logged["inputs_dvc"] = inputs.record(params, layout, logged["version"],
                                             fitted.train_days + fitted.holdout_days)
    result = {**logged, "model_sha256": sha, "model_file": str(model_path), **summary}
    per_version = ("run_id", "version", "model_file", "inputs_dvc")  # not in the (deterministic) file
    write_json({k: v for k, v in result.items() if k not in per_version},
               layout.dataset("models") / CHALLENGER_DIR / "train.json")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast train`."""
    add_as_of_arguments(parser)
    parser.add_argument("--trigger", choices=tr.TRIGGER_KINDS, default="manual", help="why this retrain runs")
    parser.add_argument("--reason", default="", help="one line: required for a manual retrain")
    parser.add_argument("--evidence", default="{}", help="JSON evidence (e.g. the drift decision record)")
    parser.add_argument("--metrics-file", default=None, help="also write headline metrics JSON here (DVC)")


def main(args: argparse.Namespace, params: Params) -> dict:
    """CLI front-end of `railcast train`."""
    layout = Layout(params, args.home)
    trigger = {"kind": args.trigger, "reason": args.reason, "evidence": json.loads(args.evidence)}
    try:
        result = run(params, layout, as_of_from_args(params, args), trigger)
    except ValueError as exc:
        raise StageError(str(exc)) from exc
    if args.metrics_file:
        keys = ["mae", "rmse", "p90_abs_error", "within_5min",
                *(f"mae_{c.removeprefix('pred_')}" for c in s.BASELINES)]
        write_json({k: round(result[k], 6) for k in keys} | {"rows": result["rows"]}, args.metrics_file)
    return result
