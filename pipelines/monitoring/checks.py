"""The monitor's checks on in-memory frames: feature/prediction drift, null rates, unseen values, skill."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.config import Monitor
from pipelines.monitoring import evidently_adapter as drift_adapter
from pipelines.monitoring.estimate import estimated_performance
from pipelines.monitoring.segments import drifted_segments, segment_drift
from pipelines.monitoring.skill import skill


def feature_columns(monitor: Monitor) -> tuple[list[str], list[str]]:
    """(numeric, categorical) model inputs the monitor tests: schema.FEATURES minus exclude_columns."""
    numeric = [c for c in s.FEATURE_NUMERIC if c not in monitor.exclude_columns]
    categorical = [c for c in s.FEATURE_CATEGORICAL if c not in monitor.exclude_columns]
    return numeric, categorical


def with_columns(frame: pd.DataFrame, monitor: Monitor) -> pd.DataFrame:
    """The frame with every tested feature: a missing column becomes all-NaN, so it is judged, not skipped."""
    numeric, categorical = feature_columns(monitor)
    missing = [c for c in numeric + categorical if c not in frame]
    return frame.assign(**{c: np.nan for c in missing}) if missing else frame


def sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most `rows` rows, drawn with a fixed seed in departure order (same input, same rows)."""
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    ordered = frame.sort_values(s.DEPARTURE_ID, kind="mergesort").reset_index(drop=True)
    picked = np.sort(np.random.default_rng(seed).choice(len(ordered), size=rows, replace=False))
    return ordered.iloc[picked].reset_index(drop=True)


def null_rates(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str],
               threshold: float) -> dict[str, dict]:
    """Per column: null share in reference and current; drifted when it moved by more than `threshold`."""
    out = {}
    for col in columns:
        ref = float(reference[col].isna().mean()) if len(reference) else math.nan
        cur = float(current[col].isna().mean()) if len(current) else math.nan
        change = abs(cur - ref)
        out[col] = {"reference": round(ref, 6), "current": round(cur, 6), "threshold": threshold,
                    "drifted": bool(change > threshold)}
    return out


def unseen_categories(reference: pd.DataFrame, current: pd.DataFrame,
                      categorical: list[str]) -> dict[str, dict]:
    """Per categorical column: share of current rows with a value the reference never has, a few examples."""
    out = {}
    for col in categorical:
        cur = current[col].dropna().astype(str)
        unseen = cur[~cur.isin(set(reference[col].dropna().astype(str)))]
        out[col] = {"share": round(float(len(unseen) / len(cur)), 6) if len(cur) else 0.0,
                    "examples": sorted(unseen.unique())[:5]}
    return out


def untestable(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> dict[str, dict]:
    """Columns with no value on one side or both: Evidently raises on them, so they are judged here.

    Empty on one side only is drift (a feature vanished or appeared); empty on both sides has nothing
    to compare and is reported as untestable, not as "no drift".
    """
    out = {}
    for col in columns:
        ref_empty, cur_empty = reference[col].notna().sum() == 0, current[col].notna().sum() == 0
        if ref_empty or cur_empty:
            out[col] = {"method": "non_null_presence", "threshold": None, "score": None,
                        "drifted": bool(ref_empty != cur_empty), "status": "untestable"}
    return out


def data_drift(reference: pd.DataFrame, current: pd.DataFrame, monitor: Monitor,
               extra_numeric: tuple[str, ...] = ()) -> tuple[object | None, dict[str, dict]]:
    """(Evidently snapshot or None, per-column results) for the features and any extra numeric columns."""
    numeric, categorical = feature_columns(monitor)
    numeric = numeric + [c for c in extra_numeric if c in reference and c in current]
    results = untestable(reference, current, numeric + categorical)
    methods = {c: monitor.num_method for c in numeric if c not in results}
    methods |= {c: monitor.cat_method for c in categorical if c not in results}
    thresholds = {c: monitor.cat_threshold if c in categorical else monitor.num_threshold for c in methods}
    snapshot = None
    if methods:
        snapshot = drift_adapter.build_report(reference, current, methods, thresholds, set(categorical))
        for col, res in drift_adapter.column_results(snapshot).items():
            # A NaN score (e.g. a constant column under a p-value test) cannot clear a column: count it.
            undecided = res["score"] is None or res["drifted"] is None
            results[col] = {**res, "drifted": True if undecided else res["drifted"],
                            "status": "undetermined" if undecided else "tested"}
    return snapshot, dict(sorted(results.items()))


def drift_share(columns: dict[str, dict], monitor: Monitor) -> dict:
    """Share of the tested feature columns that drifted, against drift_share_threshold."""
    numeric, categorical = feature_columns(monitor)
    features = [c for c in numeric + categorical if c in columns]
    drifted = sorted(c for c in features if columns[c]["drifted"])
    share = len(drifted) / len(features) if features else 0.0
    return {"share": round(share, 6), "threshold": monitor.drift_share_threshold, "columns": drifted,
            "n_columns": len(features), "drifted": bool(features) and share >= monitor.drift_share_threshold}


def skill_figures(label: np.ndarray, pred: np.ndarray, persistence: np.ndarray) -> dict:
    """MAE of the model and of persistence, and their skill, on the same labeled rows (NaN-free only)."""
    label, pred, persistence = (np.asarray(a, dtype="float64") for a in (label, pred, persistence))
    ok = ~(np.isnan(label) | np.isnan(pred) | np.isnan(persistence))
    if not ok.any():
        return {"n": 0, "mae": None, "mae_persistence": None, "skill": None}
    mae = float(np.abs(pred[ok] - label[ok]).mean())
    base = float(np.abs(persistence[ok] - label[ok]).mean())
    return {"n": int(ok.sum()), "mae": round(mae, 6), "mae_persistence": round(base, 6),
            "skill": skill(mae, base, digits=6)}


def skill_check(current: dict, holdout: dict, monitor: Monitor) -> dict:
    """Whether the window's skill fell below skill_ratio_threshold x the champion's holdout skill."""
    base = holdout.get("skill")
    enough = current["n"] >= monitor.min_labeled_rows and current["skill"] is not None and base is not None
    limit = None if base is None else (monitor.skill_ratio_threshold * base if base > 0 else base)
    return {"current": current, "holdout": holdout, "threshold": None if limit is None else round(limit, 6),
            "ratio": monitor.skill_ratio_threshold, "judged": bool(enough),
            "degraded": bool(enough and current["skill"] < limit)}


def window_skill(reference: pd.DataFrame, current: pd.DataFrame, monitor: Monitor) -> dict:
    """skill_check of the window's labeled, predicted rows against the reference (the champion's holdout)."""
    cols = (s.LABEL, s.PREDICTION, s.PRED_PERSISTENCE)

    def of(frame: pd.DataFrame) -> dict:
        if not all(c in frame for c in cols):
            return skill_figures([], [], [])
        return skill_figures(*(frame[c] for c in cols))

    return skill_check(of(current), of(reference), monitor)


def check_window(m: Monitor, reference: pd.DataFrame, current: pd.DataFrame,
                 holdout: pd.DataFrame | None = None) -> tuple[object | None, dict]:
    """Every check of one window against the reference: (Evidently snapshot, evidence without the verdict).
    Skill and the error estimate compare with `holdout` (default: the reference), the model's own
    out-of-sample rows."""
    holdout = reference if holdout is None else holdout
    reference, current = with_columns(reference, m), with_columns(current, m)
    ref, cur = sample(reference, m.sample_rows, m.sample_seed), sample(current, m.sample_rows, m.sample_seed)
    has_pred = s.PREDICTION in cur and cur[s.PREDICTION].notna().any()
    snapshot, columns = data_drift(ref, cur, m, extra_numeric=(s.PREDICTION,) if has_pred else ())
    prediction = columns.pop(s.PREDICTION, None)
    numeric, categorical = feature_columns(m)
    nulls = null_rates(reference, current, numeric + categorical, m.null_rate_threshold)
    segments = segment_drift(reference, current, m)  # cheap per-segment tests see every row: no sampling
    share = drift_share(columns, m)
    perf = window_skill(holdout, current if has_pred else current.iloc[:0], m)
    estimate = estimated_performance(holdout, current if has_pred else current.iloc[:0],
                                     m.estimated_mae_ratio_threshold)
    signals = {"data_drift": share["drifted"], "prediction_drift": bool(prediction and prediction["drifted"]),
               "segment_drift": any(r["drifted"] for r in segments),
               "null_rate_drift": any(r["drifted"] for r in nulls.values()), "skill_drop": perf["degraded"],
               "estimated_mae_rise": estimate["raised"]}
    unseen = unseen_categories(reference, current, categorical)
    signals["unseen_categories"] = any(u["share"] > m.unseen_share_threshold for u in unseen.values())
    evidence = {"rows": {"reference": len(reference), "holdout": len(holdout), "current": len(current),
                         "reference_sampled": len(ref),
                         "current_sampled": len(cur), "sample_rows": m.sample_rows,
                         "sample_seed": m.sample_seed},
                "features": columns, "drift_share": share, "prediction": prediction,
                "null_rates": {c: r for c, r in nulls.items() if r["drifted"]},
                "unseen_categories": {c: u | {"threshold": m.unseen_share_threshold,
                                              "drifted": u["share"] > m.unseen_share_threshold}
                                      for c, u in unseen.items() if u["share"] > 0},
                "segments": drifted_segments(segments), "segments_tested": len(segments),
                "skill": perf, "estimated_performance": estimate, "signals": signals,
                "drifted": any(signals.values())}
    return snapshot, evidence
