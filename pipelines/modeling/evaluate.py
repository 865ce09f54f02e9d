"""Stage `evaluate`: challenger vs champion vs baselines on the latest matured holdout; a decision record."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.cli_args import add_as_of_arguments, as_of_from_args
from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.modeling import gate
from pipelines.modeling import metrics as m
from pipelines.modeling import train_data as td
from pipelines.modeling.model import DelayModel, load_model
from pipelines.storage import Layout, atomic_path, to_path, write_json

PLOT_ROWS = 2000  # predicted-vs-actual points in the DVC plot file


def _nan_to_none(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    return value


def compare(params: Params, holdout: pd.DataFrame, pred: np.ndarray, champion: DelayModel | None) -> dict:
    """Score the challenger's predictions `pred`, the champion and the baselines on the same rows; gate."""
    label = holdout[s.LABEL].to_numpy("float64")
    segments = params.gate.segments
    if unknown := [c for c in segments if c not in s.FEATURE_CATEGORICAL]:
        raise StageError(f"gate.segments {unknown} are not segment columns: use {s.FEATURE_CATEGORICAL}")
    scores = {"challenger": m.score(holdout, pred, segments), **m.score_baselines(holdout)}
    upper = math.nan
    if champion is not None:
        champ_pred = champion.predict(holdout)
        scores["champion"] = m.score(holdout, champ_pred, segments)
        diff = np.abs(pred - label) - np.abs(champ_pred - label)
        runs = holdout[s.SERVICE_DATE].astype(str) + "|" + holdout[s.TRAIN_NUMBER].astype(str)
        upper = gate.cluster_bootstrap_upper(diff, runs.to_numpy(), params.gate.bootstrap_samples,
                                             params.gate.bootstrap_seed)
    passed, checks = gate.decide(params.gate, scores["challenger"], scores[s.PRED_PERSISTENCE]["mae"],
                                 scores.get("champion"), upper, board=scores[s.PRED_BOARD_FORECAST])
    failed = [c.reason for c in checks if not c.passed]
    return {"passed": passed, "checks": gate.as_records(checks),
            "reason": failed[0] if failed else f"all {len(checks)} checks passed",
            "gain_over_board_forecast": _nan_to_none(gate.relative_gain(scores[s.PRED_BOARD_FORECAST]["mae"],
                                                                        scores["challenger"]["mae"])),
            "bootstrap_upper": _nan_to_none(upper), "rows": len(holdout), "scores": _nan_to_none(scores)}


def summary(record: dict) -> dict:
    """The record without per-class scores: small enough for a model-version tag (5000 characters)."""
    keep = ("version", "champion_version", "as_of", "passed", "reason", "checks", "gain_over_board_forecast")
    return {k: record.get(k) for k in keep}


def read_holdout(params: Params, layout: Layout, as_of: dt.datetime) -> tuple[list[dt.date], pd.DataFrame]:
    """The most recent matured holdout days as of `as_of` and their labeled rows."""
    days = td.holdout_days(params, layout, as_of)
    return days, td.read_frame(params, layout, days, as_of)


def run(params: Params, layout: Layout, version: str, as_of: dt.datetime, dry_run: bool = False) -> dict:
    """Gate registered `version` against the champion; record it and set `challenger` (unless dry run)."""
    from pipelines.registry import integrity, ledger, tracking

    days, holdout = read_holdout(params, layout, as_of)
    ledger.reconcile(layout)  # the champion compared against is the one the history names
    champion_version = tracking.get_alias(layout, tracking.CHAMPION)
    champion = integrity.load_version(layout, champion_version) if champion_version else None
    record = {"version": str(version), "champion_version": champion_version, "as_of": as_of.isoformat(),
              "holdout_days": [d.isoformat() for d in days], "dry_run": dry_run,
              **compare(params, holdout, integrity.load_version(layout, version).predict(holdout), champion)}
    target = layout.dataset("reports") / "gate" / f"decision-v{version}{'-dry' if dry_run else ''}.json"
    write_json(record, target)
    record["record_file"] = str(target)
    if dry_run:
        return record
    info = tracking.version_info(layout, version)
    with tempfile.TemporaryDirectory(prefix="railcast-gate-") as tmp:
        stored = {k: v for k, v in record.items() if k != "record_file"}
        local = write_json(stored, Path(tmp) / "decision.json")
        tracking.log_to_run(layout, info["run_id"], metrics={"gate_passed": float(record["passed"])},
                            files={"gate/decision.json": local}, at=as_of)
    tracking.set_version_tags(layout, version, {"gate_passed": str(record["passed"]).lower(),
                                                "gate_reason": record["reason"][:5000],
                                                "gate_champion": str(champion_version),
                                                "gate_record": json.dumps(summary(record), sort_keys=True)})
    who = ledger.default_actor()
    with ledger.registry_transaction(layout, who) as conn:
        ledger.move_alias(conn, layout, tracking.CHALLENGER, str(version),
                          why=f"evaluated: {record['reason']}", who=who, when=as_of.isoformat())
    return record


def run_files(params: Params, layout: Layout, model_file: Path, as_of: dt.datetime,
              metrics_file: Path, plot_file: Path) -> dict:
    """The DVC variant: a model file against params.gate.champion_model (or none); writes metrics + plot."""
    days, holdout = read_holdout(params, layout, as_of)
    champion_path = params.gate.champion_model
    champion = load_model(champion_path) if champion_path else None
    pred = load_model(model_file).predict(holdout)
    record = {"as_of": as_of.isoformat(), "holdout_days": [d.isoformat() for d in days],
              "champion_model": champion_path or None, **compare(params, holdout, pred, champion)}
    scores = record["scores"]
    write_json({"passed": record["passed"], "rows": record["rows"], "mae": scores["challenger"]["mae"],
                "rmse": scores["challenger"]["rmse"], "within_5min": scores["challenger"]["within_5min"],
                **{f"mae_{c.removeprefix('pred_')}": scores[c]["mae"] for c in s.BASELINES},
                "mae_champion": scores.get("champion", {}).get("mae")}, metrics_file)
    write_plot(holdout, pred, plot_file)
    return record


def write_plot(holdout: pd.DataFrame, pred: np.ndarray, target: Path) -> Path:
    """Predicted vs actual delay as CSV, an evenly spaced subset ordered by departure id (stable)."""
    frame = pd.DataFrame({s.DEPARTURE_ID: holdout[s.DEPARTURE_ID].to_numpy(),
                          s.LABEL: holdout[s.LABEL].to_numpy(), s.PREDICTION: np.round(pred, 3)})
    frame = frame.sort_values(s.DEPARTURE_ID, kind="mergesort")
    step = max(1, len(frame) // PLOT_ROWS)
    with atomic_path(target) as tmp:
        frame.iloc[::step].to_csv(tmp, index=False)
    return to_path(target)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast evaluate`."""
    add_as_of_arguments(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--version", help="registered model version to gate against the champion alias")
    source.add_argument("--model-file", help="DVC mode: a model.txt, compared with gate.champion_model")
    parser.add_argument("--dry-run", action="store_true", help="record the decision only; no tags, no alias")
    parser.add_argument("--metrics-file", default="metrics/evaluate.json", help="DVC mode: metrics JSON")
    parser.add_argument("--plot-file", default="metrics/predicted_vs_actual.csv", help="DVC mode: plot data")


def main(args: argparse.Namespace, params: Params) -> dict:
    """CLI front-end of `railcast evaluate`."""
    layout = Layout(params, args.home)
    as_of = as_of_from_args(params, args)
    if args.model_file:
        return run_files(params, layout, Path(args.model_file), as_of, Path(args.metrics_file),
                         Path(args.plot_file))
    return run(params, layout, args.version, as_of, dry_run=args.dry_run)
