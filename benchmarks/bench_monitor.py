"""Monitor cost at the default network size, and whether the sampled verdict matches the full-data one.

Also home of the synthetic monitoring windows the monitor tests use: features, labels and champion
predictions of a service date (bench_train's generator), optionally shifted overall or on one corridor.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from benchmarks.bench_train import synthetic_day
from pipelines import schema as s
from pipelines.config import Params, load_params
from pipelines.storage import Layout, write_parquet

VERSION = "1"
SHIFTED = (s.DELAY_AT_PRED, s.LATE_VS_SCHEDULE_MIN, s.LINE_RECENT_DELAY, s.STATION_RECENT_DELAY,
           s.DEST_BOARD_FORECAST, *s.BASELINES, s.PREDICTION, s.LABEL)


def with_prediction(feats: pd.DataFrame, labels: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Features joined with their label and a champion-like prediction (persistence plus growth, noisy)."""
    frame = feats.merge(labels[[s.DEPARTURE_ID, s.LABEL]], on=s.DEPARTURE_ID, how="left")
    rng = np.random.default_rng(seed)
    frame[s.PREDICTION] = 0.6 * frame[s.PRED_PERSISTENCE_GROWTH] + 0.4 * frame[s.LABEL].fillna(0.0) \
        + rng.normal(0, 1.0, len(frame))
    return frame


def shift(frame: pd.DataFrame, minutes: float, corridor: str | None = None) -> pd.DataFrame:
    """A regime change: delay-like columns (label, prediction too) + `minutes`, on one corridor or all."""
    out = frame.copy()
    rows = out[s.CORRIDOR] == corridor if corridor else pd.Series(True, index=out.index)
    for col in SHIFTED:
        if col in out:
            out.loc[rows, col] = out.loc[rows, col] + minutes
    return out


def window_frame(day: dt.date, rows: int, seed: int, minutes: float = 0.0,
                 corridor: str | None = None) -> pd.DataFrame:
    """One service date of features + label + prediction, shifted by `minutes` (on `corridor` if given)."""
    feats, labels = synthetic_day(day, rows, seed)
    return shift(with_prediction(feats, labels, seed), minutes, corridor)


def write_window(layout: Layout, frame: pd.DataFrame, day: dt.date | None = None,
                 version: str = VERSION) -> None:
    """Write a window frame as the features, labels and predictions partitions of its service date; the
    features batch goes through the real validate_features gate, whose verdict stands (the monitor
    leaves out a batch it failed, as in the pipeline)."""
    from pipelines.errors import StageError
    from pipelines.validation import validate_features

    day = day or frame[s.SERVICE_DATE].iloc[0]
    feature_cols = [c for c in frame.columns if c not in (s.LABEL, s.PREDICTION)]
    write_parquet(frame[feature_cols], layout.day_file("features", day))
    try:
        validate_features.run(load_params(), layout, day)
    except StageError:
        pass   # its failed verdict and report are written: what the test or benchmark is about
    labels = pd.DataFrame({s.DEPARTURE_ID: frame[s.DEPARTURE_ID], s.LABEL: frame[s.LABEL],
                           s.LABELED_AT: frame[s.T_PRED] + pd.Timedelta(hours=1),  # matured before the close
                           s.LABEL_STATUS: np.where(frame[s.LABEL].notna(), "labeled", "unlabelable"),
                           s.LABEL_REASON: np.where(frame[s.LABEL].notna(), None, "cut_short")})
    labels[s.LABELED_AT] = pd.to_datetime(labels[s.LABELED_AT], utc=True)
    write_parquet(labels, layout.day_file("labels", day))
    preds = pd.DataFrame({s.PREDICTION_ID: frame[s.DEPARTURE_ID], s.DEPARTURE_ID: frame[s.DEPARTURE_ID],
                          s.SERVICE_DATE: frame[s.SERVICE_DATE], s.T_PRED: frame[s.T_PRED],
                          s.MODEL_VERSION: version, s.PREDICTION: frame[s.PREDICTION].astype("float64"),
                          s.SHADOW_MODEL_VERSION: version, s.SHADOW_PREDICTION: frame[s.PREDICTION]})
    write_parquet(pa.Table.from_pandas(preds, schema=s.PREDICTIONS_SCHEMA, preserve_index=False),
                  layout.day_file("predictions", day))


def write_reference(frame: pd.DataFrame, target: Path) -> Path:
    """A reference file as train logs it: features, baselines, label and prediction."""
    return write_parquet(frame.sort_values(s.DEPARTURE_ID).reset_index(drop=True), target)


def _verdicts(params: Params, root: Path, cases: dict[str, pd.DataFrame], reference: Path) -> dict:
    from pipelines.monitoring import monitor
    from pipelines.monitoring.inputs import FileReference

    out = {}
    for name, frame in cases.items():
        layout = Layout(params, root / name)
        write_window(layout, frame)
        day = frame[s.SERVICE_DATE].iloc[0]
        started = time.perf_counter()
        result = monitor.run(params, layout, day, reference=FileReference(reference, VERSION),
                             log_mlflow=False)
        out[name] = {"drifted": result["evidence"]["drifted"], "signals": result["evidence"]["signals"],
                     "seconds": round(time.perf_counter() - started, 2)}
    return out


def synthetic(rows: int) -> dict:
    """Sampled vs full-data verdicts on synthetic same-distribution / shifted / one-corridor windows."""
    params = load_params()
    full = dataclasses.replace(params, monitor=dataclasses.replace(params.monitor, sample_rows=10 * rows))
    day, ref_day = dt.date(2025, 9, 20), dt.date(2025, 9, 18)
    cases = {"same": window_frame(day, rows, 1), "shifted": window_frame(day, rows, 1, minutes=8.0),
             "corridor": window_frame(day, rows, 1, minutes=20.0, corridor="Rhein-Main")}
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        reference = write_reference(window_frame(ref_day, 2 * rows, 2), Path(tmp) / "reference.parquet")
        sampled = _verdicts(params, Path(tmp) / "sampled", cases, reference)
        exact = _verdicts(full, Path(tmp) / "full", cases, reference)
    return {"rows_current": rows, "rows_reference": 2 * rows, "sample_rows": params.monitor.sample_rows,
            "sampled": sampled, "full": exact, "expected": {"same": False, "shifted": True, "corridor": True},
            "verdicts_agree": all(sampled[k]["drifted"] == exact[k]["drifted"] for k in cases)}


def simulated(days: int = 6, start_day: int = 4, sample_rows: int = 2500) -> dict:
    """Stationary and construction (from `start_day`) at the default network size: verdicts per day,
    seconds per daily check, and the verdicts again with every window sampled to `sample_rows`."""
    from benchmarks import monitor_scenarios as ms

    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-monitor-sim-") as tmp:
        for scenario in ("stationary", "construction"):
            params = ms.with_start(load_params(), "construction", start_day)
            layout = Layout(params, Path(tmp) / scenario)
            dates = ms.build_days(params, layout, scenario, days)
            for day in dates[2:]:
                ms.stand_in_predictions(layout, day)
            reference = ms.reference_file(params, layout, dates[:2])
            small = dataclasses.replace(params, monitor=dataclasses.replace(params.monitor,
                                                                            sample_rows=sample_rows))
            full = ms.check_days(params, layout, reference, dates[2:])
            sampled = ms.check_days(small, Layout(small, layout.root), reference, dates[2:])
            out[scenario] = {"full": full, "sampled_verdicts": {d: r["verdict"] for d, r in sampled.items()},
                             "verdicts_agree": all(full[d]["verdict"] == sampled[d]["verdict"] for d in full)}
    return {"days_checked": days - 2, "event_day": start_day, "sample_rows": sample_rows, **out}


def run(rows: int = 60_000, simulate: bool = True) -> dict:
    """Synthetic sampled-vs-full verdicts and timing; the simulator scenarios when `simulate`."""
    result = {"synthetic": synthetic(rows)}
    if simulate:
        result["simulator"] = simulated()
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
