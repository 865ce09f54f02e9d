"""Per-segment drift: a shift confined to one class, line or corridor shows though the overall share is small.

Each segment value with at least `segment_min_rows` rows in both the reference and the current window
gets the pinned numeric test (monitor.num_method, threshold monitor.segment_threshold) on the delay shown
at prediction time and, when both sides carry it, on the champion's prediction.
"""

from __future__ import annotations

import pandas as pd

from pipelines import schema as s
from pipelines.config import Monitor
from pipelines.monitoring import evidently_adapter as drift_adapter

SEGMENT_COLUMNS = (s.CATEGORY, s.LINE, s.CORRIDOR)
SEGMENT_TARGETS = (s.DELAY_AT_PRED, s.PREDICTION)


def segment_values(reference: pd.DataFrame, current: pd.DataFrame, column: str, min_rows: int) -> list[str]:
    """Values of `column` with at least `min_rows` rows on both sides, sorted."""
    ref = reference[column].dropna().astype(str).value_counts()
    cur = current[column].dropna().astype(str).value_counts()
    return sorted(v for v in set(ref.index) & set(cur.index) if ref[v] >= min_rows and cur[v] >= min_rows)


def check_segment(reference: pd.Series, current: pd.Series, monitor: Monitor) -> dict | None:
    """The pinned test on one target of one segment (None when a side has no value to compare)."""
    if reference.notna().sum() == 0 or current.notna().sum() == 0:
        return None
    return drift_adapter.stat_test(reference, current, monitor.num_method, monitor.segment_threshold)


def segment_drift(reference: pd.DataFrame, current: pd.DataFrame, monitor: Monitor) -> list[dict]:
    """Every tested (segment column, value, target): rows on each side, score, threshold, drifted."""
    out = []
    for column in SEGMENT_COLUMNS:
        if column not in reference or column not in current:
            continue
        ref_key = reference[column].astype(str)
        cur_key = current[column].astype(str)
        for value in segment_values(reference, current, column, monitor.segment_min_rows):
            ref_rows, cur_rows = reference[ref_key == value], current[cur_key == value]
            for target in SEGMENT_TARGETS:
                if target not in reference or target not in current:
                    continue
                result = check_segment(ref_rows[target], cur_rows[target], monitor)
                if result is not None:
                    out.append({"segment": column, "value": value, "column": target,
                                "rows_reference": len(ref_rows), "rows_current": len(cur_rows), **result})
    return out


def drifted_segments(results: list[dict], limit: int = 10) -> list[dict]:
    """The drifted segments, highest score first (ties by name), at most `limit`."""
    hits = [r for r in results if r["drifted"]]
    hits.sort(key=lambda r: (-(r["score"] or 0.0), r["segment"], r["value"], r["column"]))
    return hits[:limit]
