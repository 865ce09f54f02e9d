"""Non-learned baselines every model is compared with (docs/RAIL_FACTS.md section 4)."""

from __future__ import annotations

import pandas as pd

from pipelines import schema as s


def add_baselines(frame: pd.DataFrame, growth_min_per_hour: float) -> pd.DataFrame:
    """A copy of `frame` with the three baseline predictions and the board-forecast flag.

    persistence: the departure delay now; persistence plus growth: plus the mean growth rate times the
    remaining scheduled travel time (persistence when that time is unknown); board forecast: the
    operator's own arrival forecast on the destination's board (persistence when not shown).
    """
    out = frame.copy()
    persistence = out[s.DELAY_AT_PRED].astype("float64")
    growth = growth_min_per_hour * out[s.REMAINING_SCHED_MIN].astype("float64") / 60.0
    available = out[s.DEST_BOARD_FORECAST].notna()
    out[s.PRED_PERSISTENCE] = persistence
    out[s.PRED_PERSISTENCE_GROWTH] = persistence + growth.fillna(0.0)
    out[s.PRED_BOARD_FORECAST] = out[s.DEST_BOARD_FORECAST].astype("float64").where(available, persistence)
    out[s.BOARD_FORECAST_AVAILABLE] = available
    return out


def baseline_errors(frame: pd.DataFrame, labels: pd.DataFrame) -> dict[str, float | int]:
    """Mean absolute error of each baseline on the labeled rows (minutes), for the day's metrics."""
    labeled = frame.merge(labels[labels[s.LABEL].notna()][[s.DEPARTURE_ID, s.LABEL]], on=s.DEPARTURE_ID)
    if labeled.empty:
        return {}
    return {f"mae_{b}": round(float((labeled[b] - labeled[s.LABEL]).abs().mean()), 4) for b in s.BASELINES}
