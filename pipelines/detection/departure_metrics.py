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


def compare(departures: pa.Table, truth: pa.Table, stations: list[str], day: dt.date) -> dict[str, Any]:
    """Signed errors (minutes) of found departures and the counts behind the found share, for one day."""
    true = true_departures(truth, stations, day)
    found = departures.select(JOIN + [s.DEPARTURE_ESTIMATE, s.IS_CANCELLED]).to_pandas()
    both = true.merge(found, on=JOIN, how="left", indicator=True)
    ran = both[~both["cancelled"] & both[s.TRUE_DEPARTURE].notna()]
    hit = ran[ran[s.DEPARTURE_ESTIMATE].notna()]
    gone = both[both["cancelled"]]
    extra = found.merge(true[JOIN], on=JOIN, how="left", indicator=True)
    return {
        "errors": _minutes(hit[s.DEPARTURE_ESTIMATE] - hit[s.TRUE_DEPARTURE]),
        "n_true_departures": len(ran),
        "n_found": len(hit),
        "n_true_cancelled": len(gone),
        "n_cancelled_flagged": int((gone[s.IS_CANCELLED] == True).sum()),  # noqa: E712 (nullable column)
        "n_detected": len(found),
        "n_detected_not_in_truth": int((extra["_merge"] == "left_only").sum()),
        "n_polled_stations": len(stations),
    }


def summarize(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled error percentiles and found share over one or more days' comparisons."""
    err = np.concatenate([p["errors"] for p in parts]) if parts else np.array([])
    counts = {k: sum(p[k] for p in parts) for k in parts[0] if k != "errors"} if parts else {}
    if parts:  # the same stations are polled every day: a count, not a sum
        counts["n_polled_stations"] = max(p["n_polled_stations"] for p in parts)
    n_ran = counts.get("n_true_departures", 0)

    def q(values: np.ndarray, pct: float) -> float | None:
        return round(float(np.percentile(values, pct)), 3) if len(values) else None

    return {
        "departure_error_p50_min": q(np.abs(err), 50),
        "departure_error_p95_min": q(np.abs(err), 95),
        "departure_error_max_min": q(np.abs(err), 100),
        "departure_error_median_signed_min": q(err, 50),
        "found_share": round(counts["n_found"] / n_ran, 5) if n_ran else None,
        "n_missed": n_ran - counts.get("n_found", 0),
        **counts,
    }


def score_departures(departures: pa.Table, truth: pa.Table, stations: list[str],
                     day: dt.date) -> dict[str, Any]:
    """Error of departure_estimate against true_departure (minutes) and the share of true departures found."""
    return {"day": day.isoformat(), **summarize([compare(departures, truth, stations, day)])}
