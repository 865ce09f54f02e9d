"""Cancellation surge: the share of the window's departures that were cancelled, against the days before it.

A storm or a strike cancels trains before it delays them, and a cancelled departure has no feature row
(nothing to predict), so the feature tests see only the trains that still ran. The departures dataset
keeps every departure with its `is_cancelled` flag: a rise of the window's cancelled share by more than
`monitor.cancelled_share_rise` (absolute, 0.065 = 6.5 points) over the share of the
`monitor.cancelled_baseline_days` days before it is a drift signal (0 turns the check off).

The baseline is the recent past, not the champion's two holdout days: one day's share varies by several
points (2-8% on the simulator's ordinary days), and a two-day reference would pass that noise on.
"""

from __future__ import annotations

import datetime as dt

from pipelines import schema as s
from pipelines.config import Monitor
from pipelines.storage import Layout, read_frame


def cancelled_share(layout: Layout, days: list[dt.date]) -> dict:
    """{"days", "departures", "cancelled", "share"} over the departures partitions of `days` that exist
    (share None when there is none)."""
    present = [d for d in sorted(set(days)) if layout.day_file("departures", d).exists()]
    flags = [read_frame(layout.day_file("departures", d), columns=[s.IS_CANCELLED])[s.IS_CANCELLED]
             for d in present]
    n = sum(len(f) for f in flags)
    k = sum(int(f.fillna(False).astype(bool).sum()) for f in flags)
    return {"days": [d.isoformat() for d in present], "departures": n, "cancelled": k,
            "share": round(k / n, 6) if n else None}


def baseline_days(window: list[dt.date], n: int) -> list[dt.date]:
    """The `n` service dates before the window's first, oldest first."""
    return [window[0] - dt.timedelta(days=k) for k in range(n, 0, -1)]


def cancellation_check(layout: Layout, window: list[dt.date], monitor: Monitor) -> dict:
    """The window's cancelled share against the baseline days': rise, threshold and whether it drifted
    (not judged when the check is off, the window has no departures or the baseline fewer than half its
    days: the first days of a deployment)."""
    base = cancelled_share(layout, baseline_days(window, monitor.cancelled_baseline_days))
    current = cancelled_share(layout, window)
    enough = len(base["days"]) >= max(1, monitor.cancelled_baseline_days // 2)
    judged = monitor.cancelled_share_rise > 0 and current["share"] is not None and enough
    rise = round(current["share"] - base["share"], 6) if judged else None
    return {"current": current, "baseline": base, "rise": rise, "threshold": monitor.cancelled_share_rise,
            "judged": judged, "drifted": bool(judged and rise > monitor.cancelled_share_rise)}


def with_check(checks: dict, result: dict) -> dict:
    """The window's evidence (checks.check_window) with the cancellation check as one more signal."""
    signals = {**checks["signals"], "cancellation_surge": result["drifted"]}
    return {**checks, "cancellations": result, "signals": signals, "drifted": any(signals.values())}
