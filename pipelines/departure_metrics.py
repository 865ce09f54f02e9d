"""Score decided departures against simulator truth (the only use of truth in detection)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines import schema as s

JOIN = [s.SERVICE_DATE, s.TRAIN_NUMBER, s.STATION]


def true_departures(truth: pa.Table, stations: list[str], day: dt.date) -> pd.DataFrame:
    """Truth stops of `day` at polled `stations` that have a scheduled departure, with a cancelled flag."""
    cols = JOIN + [s.SCHEDULED_DEPARTURE, s.TRUE_DEPARTURE, s.STOP_CANCELLED, s.RUN_CANCELLED]
    df = truth.select(cols).to_pandas()
    df = df[(df[s.SERVICE_DATE] == day) & df[s.STATION].isin(stations) & df[s.SCHEDULED_DEPARTURE].notna()]
    cancelled = df[s.STOP_CANCELLED].fillna(False) | df[s.RUN_CANCELLED].fillna(False)
    return df.assign(cancelled=cancelled.astype(bool))


def _minutes(delta: pd.Series) -> np.ndarray:
    return (delta.dt.total_seconds() / 60.0).to_numpy(dtype=float)


def score_departures(departures: pa.Table, truth: pa.Table, stations: list[str], day: dt.date) -> dict[str, Any]:
    """Error of departure_estimate against true_departure (minutes) and the share of true departures found."""
    true = true_departures(truth, stations, day)
    found = departures.select(JOIN + [s.DEPARTURE_ESTIMATE, s.IS_CANCELLED]).to_pandas()
    both = true.merge(found, on=JOIN, how="left", indicator=True)
    ran = both[~both["cancelled"] & both[s.TRUE_DEPARTURE].notna()]
    hit = ran[ran[s.DEPARTURE_ESTIMATE].notna()]
    err = _minutes(hit[s.DEPARTURE_ESTIMATE] - hit[s.TRUE_DEPARTURE])
    gone = both[both["cancelled"]]
    extra = found.merge(true[JOIN], on=JOIN, how="left", indicator=True)
    n_ran = len(ran)

    def q(values: np.ndarray, p: float) -> float | None:
        return round(float(np.percentile(values, p)), 3) if len(values) else None

    return {
        "day": day.isoformat(),
        "departure_error_p50_min": q(np.abs(err), 50),
        "departure_error_p95_min": q(np.abs(err), 95),
        "departure_error_max_min": q(np.abs(err), 100),
        "departure_error_median_signed_min": q(err, 50),
        "found_share": round(len(hit) / n_ran, 5) if n_ran else None,
        "n_true_departures": n_ran,
        "n_found": len(hit),
        "n_missed": n_ran - len(hit),
        "n_true_cancelled": len(gone),
        "n_cancelled_flagged": int((gone[s.IS_CANCELLED] == True).sum()),  # noqa: E712 (nullable column)
        "n_detected": len(found),
        "n_detected_not_in_truth": int((extra["_merge"] == "left_only").sum()),
        "n_polled_stations": len(stations),
    }
