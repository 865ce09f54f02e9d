"""Labels: the arrival delay at the planned destination, when it became known, or why there is none.

A label is the last delayArrival the planned destination's board showed for the train before the train
left that board; it became known `detection.gap_min + grace_min` after that last sighting. Trains that
cannot be labeled get a reason and are known as such at t_pred + features.label_max_wait_hours (or at
the close of the service date, when the stage writes them, whichever is earlier).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.config import Params

LAST_POLL = "last_poll_at_destination"
DEST_CANCELLED, DEST_SHOWN_AS = "dest_cancelled", "dest_shown_destination"
TRUE_DELAY = "true_delay"


def destination_outcome(departures: pd.DataFrame, snaps: pd.DataFrame) -> pd.DataFrame:
    """Per departure: what the planned destination's board showed last (all polls of the day)."""
    keys = [s.PLANNED_DESTINATION, s.SERVICE_DATE, s.TRAIN_NUMBER]
    rows = snaps.rename(columns={s.STATION: s.PLANNED_DESTINATION, s.DESTINATION: DEST_SHOWN_AS,
                                 s.IS_CANCELLED: DEST_CANCELLED})
    rows = rows.merge(departures[[s.DEPARTURE_ID, *keys]], on=keys)
    rows = rows.sort_values([s.DEPARTURE_ID, s.POLL_TIME, s.DELAY_ARRIVAL], kind="mergesort",
                            na_position="first")
    grouped = rows.groupby(s.DEPARTURE_ID, sort=True)
    last = grouped.tail(1).set_index(s.DEPARTURE_ID)[[s.POLL_TIME, DEST_CANCELLED, DEST_SHOWN_AS]]
    out = last.rename(columns={s.POLL_TIME: LAST_POLL})
    out[s.LABEL] = grouped[s.DELAY_ARRIVAL].last().astype("float64")  # last non-null delay shown
    return out


def unlabelable_reason(dep: pd.DataFrame, polled: set[str]) -> pd.Series:
    """The reason a departure cannot be labeled ('' when it can), first matching rule wins."""
    seen = dep[LAST_POLL].notna()
    rules = [
        (~dep[s.PLANNED_DESTINATION].isin(polled), "destination_not_polled"),
        (dep[s.DESTINATION] != dep[s.PLANNED_DESTINATION], "cut_short"),
        (seen & (dep[DEST_SHOWN_AS] != dep[s.PLANNED_DESTINATION]), "cut_short"),
        (~seen, "not_seen_at_destination"),
        (dep[DEST_CANCELLED].eq(True), "cancelled_at_destination"),
        (dep[s.LABEL].isna(), "no_arrival_delay"),
    ]
    reason = pd.Series("", index=dep.index, dtype=object)
    for mask, name in reversed(rules):  # reversed: the first rule of the list is applied last and wins
        reason = reason.mask(mask.to_numpy(), name)
    return reason


def extract_labels(departures: pd.DataFrame, snaps: pd.DataFrame, polled: set[str], params: Params,
                   close: dt.datetime) -> pd.DataFrame:
    """One label row per departure (which must carry T_PRED), sorted by departure_id."""
    known_after = pd.Timedelta(minutes=params.detection.gap_min + params.detection.grace_min)
    max_wait = pd.Timedelta(hours=params.features.label_max_wait_hours)
    dep = departures.set_index(s.DEPARTURE_ID).join(destination_outcome(departures, snaps), how="left")
    reason = unlabelable_reason(dep, polled)
    labeled_at = dep[LAST_POLL] + known_after
    reason = reason.mask((reason == "") & (labeled_at - dep[s.T_PRED] > max_wait), "wait_exceeded")
    ok = reason == ""
    given_up = (dep[s.T_PRED] + max_wait).clip(upper=pd.Timestamp(close))
    out = pd.DataFrame({s.LABEL: dep[s.LABEL].where(ok), s.LABELED_AT: labeled_at.where(ok, given_up),
                        s.LABEL_STATUS: np.where(ok, s.LABELED, s.UNLABELABLE),
                        s.LABEL_REASON: reason.where(~ok, None)}, index=dep.index)
    out = out.rename_axis(s.DEPARTURE_ID).reset_index()
    return out.sort_values(s.DEPARTURE_ID, kind="mergesort").reset_index(drop=True)


def label_errors(labels: pd.DataFrame, departures: pd.DataFrame,
                 truth: pd.DataFrame) -> dict[str, float | int]:
    """Labeled rows against the simulator's true arrival delay at the run's last stop (minutes)."""
    last = truth.sort_values(s.STOP_SEQ, kind="mergesort").groupby([s.SERVICE_DATE, s.TRAIN_NUMBER]).tail(1)
    true_delay = (last[s.TRUE_ARRIVAL] - last[s.SCHEDULED_ARRIVAL]).dt.total_seconds() / 60.0
    last = last.assign(**{TRUE_DELAY: true_delay})[[s.SERVICE_DATE, s.TRAIN_NUMBER, TRUE_DELAY]]
    rows = labels[labels[s.LABEL_STATUS] == s.LABELED].merge(
        departures[[s.DEPARTURE_ID, s.SERVICE_DATE, s.TRAIN_NUMBER]], on=s.DEPARTURE_ID)
    rows = rows.merge(last, on=[s.SERVICE_DATE, s.TRAIN_NUMBER]).dropna(subset=[TRUE_DELAY])
    error = (rows[s.LABEL] - rows[TRUE_DELAY]).abs()
    if error.empty:
        return {"n_scored": 0}
    return {"n_scored": int(len(error)), "label_error_mean_min": round(float(error.mean()), 4),
            "label_error_p95_min": round(float(np.percentile(error, 95)), 4),
            "label_error_max_min": round(float(error.max()), 4)}
