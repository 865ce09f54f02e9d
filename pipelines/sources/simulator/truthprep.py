"""Truth rows turned into per-stop arrays and the board fields that do not change from poll to poll."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines import schema as s
from pipelines.sources.dbf.fields import category_of  # the bulk path must label trains as ingest does
from pipelines.sources.dbf.reasons import REASON_TEXTS
from pipelines.timeutil import BERLIN, SERVICE_DAY_START_HOUR

VIA_STOPS = 3
# snapshot columns fixed per stop row; poll_time, delays and reason codes are added per poll
STATIC_COLUMNS = [
    f
    for f in s.SNAPSHOT_SCHEMA
    if f.name not in (s.POLL_TIME, s.DELAY_ARRIVAL, s.DELAY_DEPARTURE, s.REASON_CODES)
]


@dataclass
class StopTable:
    """One entry per truth row, sorted by (run, stop_seq); times in integer seconds, -1 when null."""

    station_names: list[str]
    station: np.ndarray
    run: np.ndarray
    sched_arr: np.ndarray
    sched_dep: np.ndarray
    true_arr: np.ndarray
    true_dep: np.ndarray
    cancelled: np.ndarray
    listed_from: np.ndarray
    leave: np.ndarray
    static: pa.Table = field(repr=False)  # STATIC_COLUMNS, one row per stop
    reasons: np.ndarray = field(repr=False)  # canonical comma-joined codes, "" appended at the end
    routes: list[list[dict]] = field(repr=False)  # DBF route objects per stop row
    vias: list[list[str]] = field(repr=False)
    _hhmm: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def hhmm(self, event: str) -> np.ndarray:
        """Scheduled "HH:MM" Berlin times of "arr" or "dep" per stop row (None: no such event)."""
        if event not in self._hhmm:  # only boards need it: the bulk path skips the slow strftime
            self._hhmm[event] = _hhmm(self.sched_arr if event == "arr" else self.sched_dep)
        return self._hhmm[event]


def canonical_reasons(value: Any) -> str:
    """Known IRIS codes of a truth cell (comma text or list), newest first, without repeats."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    codes = [c.strip() for c in items if c.strip() in REASON_TEXTS]
    return ",".join(dict.fromkeys(codes))


def _seconds(column: pd.Series) -> np.ndarray:
    """Integer seconds since 1970 of a UTC time column; -1 where null."""
    ts = pd.to_datetime(column, utc=True).dt.tz_convert(None)
    out = ts.to_numpy("datetime64[s]").astype(np.int64)
    return np.where(ts.isna().to_numpy(), -1, out)


def _wall(secs: np.ndarray) -> pd.Series:
    """Berlin wall-clock times (naive) of seconds, NaT where -1."""
    nat = np.iinfo(np.int64).min  # NumPy's NaT: integers all the way, no float round trip
    ts = pd.Series(np.where(secs >= 0, secs, nat).astype("datetime64[s]"))
    return ts.dt.tz_localize("UTC").dt.tz_convert(BERLIN).dt.tz_localize(None)


def _instants(secs: np.ndarray) -> pa.Array:
    """UTC timestamps (microseconds) of integer seconds, null where -1 (no float round trip)."""
    return pa.array(np.where(secs >= 0, secs, 0) * 1_000_000, pa.int64(), mask=secs < 0).cast(s.TS)


def _hhmm(secs: np.ndarray) -> np.ndarray:
    wall = _wall(secs)
    return np.where(secs >= 0, wall.dt.strftime("%H:%M").to_numpy(dtype=object), None)


def _routes(runs: np.ndarray, names: np.ndarray, cancelled: np.ndarray, added: np.ndarray) -> dict[str, list]:
    """Route objects, route strings, destination and via per stop row (one pass per run)."""
    out: dict[str, list] = {k: [] for k in ("routes", "route", "cstops", "astops", "dest", "via")}
    if not len(runs):
        return out
    bounds = np.flatnonzero(np.diff(runs)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(runs)], strict=True):
        stops = [
            {"name": n} | ({"isAdditional": 1} if a else {}) | ({"isCancelled": 1} if c else {})
            for n, c, a in zip(names[lo:hi], cancelled[lo:hi], added[lo:hi], strict=True)
        ]
        served = [i for i in range(hi - lo) if not cancelled[lo + i]]
        dest = names[lo + served[-1]] if served else names[hi - 1]
        joined = (
            "|".join(names[lo:hi]),
            "|".join(names[lo:hi][cancelled[lo:hi]]),
            "|".join(names[lo:hi][added[lo:hi]]),
        )
        for i in range(hi - lo):
            out["routes"].append(stops)
            out["route"].append(joined[0])
            out["cstops"].append(joined[1])
            out["astops"].append(joined[2])
            out["dest"].append(dest)
            out["via"].append([names[lo + k] for k in served if k > i][:VIA_STOPS])
    return out


def _static_table(
    df: pd.DataFrame,
    names: np.ndarray,
    sa: np.ndarray,
    sd: np.ndarray,
    cancelled: np.ndarray,
    service: pd.Series,
    r: dict[str, list],
) -> pa.Table:
    """The STATIC_COLUMNS of every stop row."""
    trains = df[s.TRAIN].astype(str)
    classes = df[s.TRAIN_CLASSES].map(lambda v: "".join(v) if not isinstance(v, str) else v)
    return pa.table(
        {
            s.STATION: names,
            s.SERVICE_DATE: service,
            s.TRAIN: trains,
            s.CATEGORY: trains.map(category_of),
            s.TRAIN_NUMBER: df[s.TRAIN_NUMBER].astype(str),
            s.TRAIN_CLASSES: classes,
            s.DESTINATION: r["dest"],
            s.PLATFORM: df[s.PLATFORM],
            s.SCHEDULED_PLATFORM: df[s.SCHEDULED_PLATFORM],
            s.SCHEDULED_ARRIVAL: _instants(sa),
            s.SCHEDULED_DEPARTURE: _instants(sd),
            s.IS_CANCELLED: cancelled,
            s.MISSING_REALTIME: np.zeros(len(df), bool),
            s.ROUTE: r["route"],
            s.CANCELLED_STOPS: r["cstops"],
            s.ADDITIONAL_STOPS: r["astops"],
            s.VIA: ["|".join(v) for v in r["via"]],
        }
    ).cast(pa.schema(STATIC_COLUMNS))


def prepare_stops(truth: pd.DataFrame, lookahead_min: int) -> StopTable:
    """A StopTable of `truth` (ARCHITECTURE.md `truth` columns)."""
    df = truth.sort_values([s.RUN_ID, s.STOP_SEQ], kind="stable").reset_index(drop=True)
    names = df[s.STATION].astype(str).to_numpy(dtype=object)
    station_names = sorted(set(names))
    run = pd.factorize(df[s.RUN_ID], sort=True)[0].astype(np.int64)
    sa, sd = (_seconds(df[c]) // 60 * 60 for c in (s.SCHEDULED_ARRIVAL, s.SCHEDULED_DEPARTURE))
    sa, sd = np.where(sa < 0, -1, sa), np.where(sd < 0, -1, sd)
    ta, td = _seconds(df[s.TRUE_ARRIVAL]), _seconds(df[s.TRUE_DEPARTURE])
    cancelled = (df[s.STOP_CANCELLED].fillna(False) | df[s.RUN_CANCELLED].fillna(False)).to_numpy(bool)
    added = df[s.IS_ADDITIONAL].fillna(False).to_numpy(bool)
    sched_here = np.where(sd >= 0, sd, sa)
    true_leave = np.where(td >= 0, td, np.where(ta >= 0, ta, sched_here))
    leave = np.where(cancelled, sched_here, true_leave)
    wall = _wall(sched_here)
    service = (wall - pd.Timedelta(hours=SERVICE_DAY_START_HOUR)).dt.date
    r = _routes(run, names, cancelled, added)
    static = _static_table(df, names, sa, sd, cancelled, service, r)
    reasons = np.array([canonical_reasons(v) for v in df[s.REASON_CODES]] + [""], dtype=object)
    return StopTable(
        station_names,
        np.searchsorted(station_names, names).astype(np.int64),
        run,
        sa,
        sd,
        ta,
        td,
        cancelled,
        sched_here - 60 * lookahead_min,
        leave,
        static,
        reasons,
        r["routes"],
        r["via"],
    )
