"""Context features of a departure: recent delays around it and the learned timetable.

Recent delays are windowed sums over the snapshots in (t_pred - window, t_pred]: prefix sums over rows
sorted by (key, poll_time) and two binary searches per departure. Sums and counts are integers, so the
means are bit-identical on every run.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipelines import schema as s

OFFSET_MIN = "arrival_offset_min"
_US_PER_MIN = 60_000_000


def _micros(instants: pd.Series) -> np.ndarray:
    """UTC instants as int64 microseconds since the epoch."""
    return instants.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]").astype(np.int64)


def _codes(rows: pd.DataFrame, queries: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One integer code per distinct value of `columns`, shared by rows and queries."""
    both = pd.concat([rows[columns], queries[columns]], ignore_index=True)
    codes = both.groupby(columns, sort=False, dropna=False).ngroup().to_numpy(np.int64)
    return codes[:len(rows)], codes[len(rows):]


def window_sums(row_codes: np.ndarray, row_us: np.ndarray, values: np.ndarray, query_codes: np.ndarray,
                query_us: np.ndarray, window_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the non-null `values` of rows sharing each query's code in (t - window, t]."""
    if len(row_codes) == 0 or len(query_codes) == 0:
        return np.zeros(len(query_codes), np.int64), np.zeros(len(query_codes), np.int64)
    valid = ~np.isnan(values)
    origin = min(row_us.min(), query_us.min() - window_us)
    span = max(row_us.max(), query_us.max()) - origin + 1   # codes * span keeps each key's rows apart
    order = np.lexsort((row_us, row_codes))
    position = row_codes[order] * span + (row_us[order] - origin)
    cum_value = np.concatenate([[0], np.cumsum(np.where(valid, values, 0).astype(np.int64)[order])])
    cum_count = np.concatenate([[0], np.cumsum(valid[order].astype(np.int64))])
    hi = np.searchsorted(position, query_codes * span + (query_us - origin), side="right")
    lo = np.searchsorted(position, query_codes * span + (query_us - window_us - origin), side="right")
    return cum_value[hi] - cum_value[lo], cum_count[hi] - cum_count[lo]


def recent_delay(departures: pd.DataFrame, snaps: pd.DataFrame, key: str, window_min: int) -> pd.Series:
    """Mean delay shown for other trains sharing `key` (LINE or STATION) in the window before t_pred.

    Each board row counts once (a train shown at three polls weighs three); the delay shown is the
    departure delay, or the arrival delay where the train ends. Null when no such row exists.
    """
    shown = snaps[s.DELAY_DEPARTURE].astype("float64").fillna(snaps[s.DELAY_ARRIVAL].astype("float64"))
    values = shown.to_numpy()
    row_us, query_us = _micros(snaps[s.POLL_TIME]), _micros(departures[s.T_PRED])
    window_us = window_min * _US_PER_MIN
    key_rows, key_queries = _codes(snaps, departures, [key])
    total, count = window_sums(key_rows, row_us, values, key_queries, query_us, window_us)
    own = [key, s.SERVICE_DATE, s.TRAIN_NUMBER]   # the train's own rows are not "other trains"
    own_rows, own_queries = _codes(snaps, departures, own)
    own_total, own_count = window_sums(own_rows, row_us, values, own_queries, query_us, window_us)
    others = count - own_count
    mean = np.where(others > 0, (total - own_total) / np.maximum(others, 1), np.nan)
    return pd.Series(mean, index=departures.index, dtype="float64")


def learn_timetable(rows: pd.DataFrame) -> pd.DataFrame:
    """(train_number, station) -> scheduled arrival as Berlin wall-clock minutes after its service date.

    `rows` are snapshot rows of earlier service dates; the latest service date seen wins.
    """
    rows = rows[rows[s.SCHEDULED_ARRIVAL].notna()]
    if rows.empty:
        return pd.DataFrame(columns=[s.TRAIN_NUMBER, s.STATION, OFFSET_MIN])
    local = rows[s.SCHEDULED_ARRIVAL].dt.tz_convert(s.TZ_LOCAL).dt.tz_localize(None)
    offset = (local - pd.to_datetime(rows[s.SERVICE_DATE])).dt.total_seconds() / 60.0
    table = pd.DataFrame({s.TRAIN_NUMBER: rows[s.TRAIN_NUMBER], s.STATION: rows[s.STATION],
                          s.SERVICE_DATE: rows[s.SERVICE_DATE], OFFSET_MIN: offset})
    table = table.sort_values([s.TRAIN_NUMBER, s.STATION, s.SERVICE_DATE, OFFSET_MIN], kind="mergesort")
    latest = table.drop_duplicates([s.TRAIN_NUMBER, s.STATION], keep="last")
    return latest[[s.TRAIN_NUMBER, s.STATION, OFFSET_MIN]].reset_index(drop=True)


def timetable_arrival(departures: pd.DataFrame, timetable: pd.DataFrame, day: dt.date) -> pd.Series:
    """Scheduled arrival (UTC) at each departure's planned destination on `day`, from the timetable."""
    known = timetable.rename(columns={s.STATION: s.PLANNED_DESTINATION})
    keys = [s.TRAIN_NUMBER, s.PLANNED_DESTINATION]
    merged = departures[keys].merge(known, on=keys, how="left").set_axis(departures.index)
    wall = pd.Timestamp(day) + pd.to_timedelta(merged[OFFSET_MIN], unit="min")
    return wall.dt.tz_localize(s.TZ_LOCAL, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
