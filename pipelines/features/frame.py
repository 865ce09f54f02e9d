"""Assemble the features partition of one service date from departures, snapshots and the timetable."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from pipelines import schema as s
from pipelines.config import Features
from pipelines.features.baselines import add_baselines
from pipelines.features.compute import (
    NO_REASON,
    calendar_features,
    corridor_of,
    destination_view,
    line_of,
    own_history,
    remaining_stops,
    station_features,
    with_lines,
)
from pipelines.features.context import recent_delay, timetable_arrival

_US_UTC = "datetime64[us, UTC]"
# Categoricals fixed before t_pred (reason_code is read from the boards).
IDENTITY = (s.CATEGORY, s.LINE, s.STATION, s.PLANNED_DESTINATION, s.CORRIDOR)


def prediction_rows(departures: pd.DataFrame) -> pd.DataFrame:
    """Non-cancelled departures with their prediction point (t_pred = last_seen), line and corridor."""
    live = departures[~departures[s.IS_CANCELLED].fillna(False).astype(bool)].copy()
    live[s.T_PRED] = live[s.LAST_SEEN]
    live[s.LINE] = [line_of(t, c, r) for t, c, r in
                    zip(live[s.TRAIN], live[s.CATEGORY], live[s.ROUTE], strict=True)]
    live[s.CORRIDOR] = live[s.ROUTE].map(corridor_of)
    return live.sort_values(s.DEPARTURE_ID, kind="mergesort").reset_index(drop=True)


def _at_station(live: pd.DataFrame, snaps: pd.DataFrame, trend_polls: int) -> pd.DataFrame:
    """Station features; departures whose rows were all quarantined fall back on detection's last shown."""
    found = station_features(own_history(live, snaps), trend_polls)
    out = found.reindex(live[s.DEPARTURE_ID]).set_axis(live.index)
    missing = out[s.DELAY_AT_PRED].isna() & ~live[s.DEPARTURE_ID].isin(found.index)
    out[s.DELAY_AT_PRED] = out[s.DELAY_AT_PRED].where(~missing, live[s.DELAY_DEPARTURE].astype("float64"))
    fallback_stops = pd.Series([remaining_stops(r, None, st) for r, st in
                                zip(live[s.ROUTE], live[s.STATION], strict=True)], index=live.index)
    out[s.REMAINING_STOPS] = out[s.REMAINING_STOPS].fillna(fallback_stops)
    out[s.PLATFORM_CHANGE] = out[s.PLATFORM_CHANGE].fillna(live[s.PLATFORM_CHANGED].fillna(False).astype(int))
    return out.fillna({s.DELAY_TREND: 0.0, s.REASON_CODE: NO_REASON, s.N_REASONS: 0})


def build_frame(departures: pd.DataFrame, snaps: pd.DataFrame, timetable: pd.DataFrame, day: dt.date,
                fp: Features) -> pd.DataFrame:
    """Features and baselines of every non-cancelled departure, sorted by departure_id."""
    live = prediction_rows(departures)
    if live.empty:
        return s.FEATURES_SCHEMA.empty_table().to_pandas()
    snaps = with_lines(snaps)
    dest = destination_view(live, snaps).reindex(live[s.DEPARTURE_ID]).set_axis(live.index)
    scheduled_arrival = dest[s.SCHEDULED_ARRIVAL].astype(_US_UTC).fillna(
        timetable_arrival(live, timetable, day).astype(_US_UTC))
    frame = pd.concat([live[[s.DEPARTURE_ID, s.SERVICE_DATE, s.T_PRED, s.TRAIN_NUMBER, *IDENTITY]],
                       _at_station(live, snaps, fp.trend_polls), calendar_features(live)], axis=1)
    frame[s.REMAINING_SCHED_MIN] = (scheduled_arrival - live[s.SCHEDULED_DEPARTURE]).dt.total_seconds() / 60.0
    frame[s.DEST_BOARD_FORECAST] = dest[s.DELAY_ARRIVAL].astype("float64")
    frame[s.LINE_RECENT_DELAY] = recent_delay(live, snaps, s.LINE, fp.recent_window_min)
    frame[s.STATION_RECENT_DELAY] = recent_delay(live, snaps, s.STATION, fp.recent_window_min)
    frame = add_baselines(frame, fp.growth_min_per_hour)
    return frame[s.FEATURES_SCHEMA.names]


def to_table(frame: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table of s.FEATURES_SCHEMA (fixed column order and types)."""
    schema = s.FEATURES_SCHEMA
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
