"""detect_departures throughput on synthetic snapshot streams, beside a plain DuckDB scan-and-group-by.

One service date with 60 x k stations is k days' worth of rows of a 60-station network (polls every
3 min with +-30 s jitter and 5% failures, ~25 trains on each board, 180 min lookahead). Each size is
written as hour partitions exactly like ingest writes them, then the whole stage runs (Parquet in,
departures out). The ratio to the plain group-by of the same files is the figure that travels between
machines; rows/s are for this machine only.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines import datasets
from pipelines import schema as s
from pipelines.config import Params, load_params
from pipelines.detection import detect_departures as stage
from pipelines.detection.sessionize import connect
from pipelines.storage import Layout, write_json, write_parquet
from pipelines.timeutil import local_midnight_utc

DAY = dt.date(2025, 9, 1)
SCALES = (1, 3, 10, 30)
POLL_S, JITTER_S, FAILED, LOOKAHEAD_MIN, TRAINS_PER_STATION = 180, 30, 0.05, 180, 200
ROUTES = [f"Origin {i}|Mid {i % 7}|Hub {i % 3}|Terminus {i}" for i in range(40)]
PLATFORMS = ["1", "2", "3", "4"]
LINES = ["ICE 1555", "IC 2013", "RE 7", "RB 59", "S 1", "S 4", "RE 1", "RB 33"]


def _polls(rng: np.random.Generator, n_stations: int, start: float, end: float) -> tuple[np.ndarray, ...]:
    n = int((end - start) // POLL_S)
    grid = start + rng.uniform(0, POLL_S, (n_stations, 1)) + POLL_S * np.arange(n)
    times = np.round(grid + rng.uniform(-JITTER_S, JITTER_S, grid.shape))
    station = np.repeat(np.arange(n_stations), n)
    return station, times.ravel(), rng.random(station.size) >= FAILED


def synth_rows(n_stations: int, seed: int = 1) -> tuple[pa.Table, pa.Table]:
    """(snapshots, polls) of service date DAY for `n_stations` synthetic stations, unsorted."""
    rng = np.random.default_rng(seed)
    start = local_midnight_utc(DAY).timestamp()
    end = start + 30 * 3600
    p_station, p_time, p_ok = _polls(rng, n_stations, start, end)
    n_trains = n_stations * TRAINS_PER_STATION
    t_station = np.repeat(np.arange(n_stations), TRAINS_PER_STATION)
    sched = np.floor((start + 4 * 3600 + rng.uniform(0, 24 * 3600, n_trains)) / 60) * 60
    delay_s = rng.exponential(240, n_trains)
    depart = sched + delay_s
    # polls are sorted per station; shift each station by 1e8 s to search all stations at once
    key = p_station * 1e8 + p_time
    k0 = np.searchsorted(key, t_station * 1e8 + sched - LOOKAHEAD_MIN * 60)
    k1 = np.searchsorted(key, t_station * 1e8 + depart)
    counts = k1 - k0
    train = np.repeat(np.arange(n_trains), counts)
    poll = k0[train] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = p_ok[poll]
    train, poll = train[keep], poll[keep]
    snaps = _snapshot_table(rng, train, poll, p_station, p_time, sched, np.floor(delay_s / 60))
    polls = pa.table({s.STATION: _names(p_station), s.POLL_TIME: _ts(p_time),
                      s.POLL_STATUS: np.where(p_ok, "ok", "failed"),
                      s.POLL_RECORDS: pa.array(np.bincount(poll, minlength=p_time.size), pa.int32()),
                      s.POLL_REASON: pa.nulls(p_time.size, pa.string())})
    return snaps, polls.cast(s.POLLS_SCHEMA)


def _names(idx: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()),
                                          pa.array([f"Station {i:05d}" for i in range(idx.max() + 1)]))


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array((seconds * 1e6).astype("int64"), pa.int64()).cast(s.TS)


def _snapshot_table(rng: np.random.Generator, train: np.ndarray, poll: np.ndarray, p_station: np.ndarray,
                    p_time: np.ndarray, sched: np.ndarray, delay: np.ndarray) -> pa.Table:
    n_trains = sched.size
    route = rng.integers(0, len(ROUTES), n_trains)[train]
    line = rng.integers(0, len(LINES), n_trains)[train]
    local = sched[train] + 2 * 3600  # CEST in September; the 04:00 rule decides the service date
    service = (np.floor((local - 4 * 3600) / 86400) * 86400).astype("int64") // 86400
    dict_col = lambda idx, values: pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(values))  # noqa: E731
    cols = {
        s.STATION: _names(p_station[poll]), s.POLL_TIME: _ts(p_time[poll]),
        s.SERVICE_DATE: pa.array(service.astype("int32"), pa.int32()).cast(pa.date32()),
        s.TRAIN: dict_col(line, LINES), s.CATEGORY: dict_col(line, [x.split()[0] for x in LINES]),
        s.TRAIN_NUMBER: pa.array((10000 + train).astype(str)), s.TRAIN_CLASSES: dict_col(line * 0, ["N"]),
        s.DESTINATION: dict_col(route, [r.split("|")[-1] for r in ROUTES]),
        s.PLATFORM: dict_col(line % 4, PLATFORMS), s.SCHEDULED_PLATFORM: dict_col(line % 4, PLATFORMS),
        s.SCHEDULED_ARRIVAL: _ts(sched[train] - 60), s.SCHEDULED_DEPARTURE: _ts(sched[train]),
        s.DELAY_ARRIVAL: pa.array(delay[train].astype("int16")),
        s.DELAY_DEPARTURE: pa.array(delay[train].astype("int16")),
        s.IS_CANCELLED: pa.array(np.zeros(train.size, bool)),
        s.MISSING_REALTIME: pa.array(np.zeros(train.size, bool)),
        s.REASON_CODES: dict_col(line * 0, [""]), s.ROUTE: dict_col(route, ROUTES),
        s.CANCELLED_STOPS: dict_col(line * 0, [""]), s.ADDITIONAL_STOPS: dict_col(line * 0, [""]),
        s.VIA: dict_col(route, [r.split("|", 1)[1] for r in ROUTES]),
    }
    return pa.table(cols)


def write_day(params: Params, layout: Layout, snaps: pa.Table, polls: pa.Table) -> None:
    """Hour partitions sorted like ingest writes them, and a passed validation ledger."""
    sorts = (("snapshots", snaps, s.SNAPSHOT_KEY), ("polls", polls, (s.STATION, s.POLL_TIME)))
    for name, table, sort in sorts:
        hours = pa.compute.floor_temporal(table[s.POLL_TIME], unit="hour")
        table = table.append_column("_hour", hours)
        for hour in datasets.service_date_hours(params, DAY):
            in_hour = pa.compute.equal(table["_hour"], pa.scalar(hour, s.TS))
            part = table.filter(in_hour).drop_columns(["_hour"])
            schema = s.SNAPSHOT_SCHEMA if name == "snapshots" else s.POLLS_SCHEMA
            part = part.cast(schema).sort_by([(c, "ascending") for c in sort])
            write_parquet(part, layout.hour_file(name, hour))
    write_json({"verdict": "passed"}, layout.dataset("ledger") / "validate_snapshots" / f"{DAY}.json")


def _timed(layout: Layout, params: Params, query: str) -> float:
    """Seconds for `query` over view `snaps` (the day's snapshot files), its result counted in DuckDB
    (fetching rows into Python would time the conversion, not the scan)."""
    files = datasets.hour_files(layout, "snapshots", datasets.service_date_hours(params, DAY))
    con = connect()
    con.execute(f"CREATE VIEW snaps AS SELECT * FROM read_parquet({[str(f) for f in files]}) "
                f"WHERE {s.SERVICE_DATE} = DATE '{DAY}'")
    t0 = time.perf_counter()
    con.execute(f"SELECT count(*) FROM ({query})").fetchall()
    seconds = time.perf_counter() - t0
    con.close()
    return seconds


def group_by_baseline(layout: Layout, params: Params) -> float:
    """A plain scan-and-group-by of the same rows: key, count, first and last poll."""
    return _timed(layout, params, f"SELECT {s.STATION}, {s.SERVICE_DATE}, {s.TRAIN_NUMBER}, count(*), "
                                  f"min({s.POLL_TIME}), max({s.POLL_TIME}) FROM snaps GROUP BY ALL")


def window_baseline(layout: Layout, params: Params) -> float:
    """The textbook window-function sessionization of the same rows (the issue's ~5M rows/s yardstick):
    a gap to the previous sighting of the key opens a session; the last session's bounds per key."""
    key = f"{s.STATION}, {s.SERVICE_DATE}, {s.TRAIN_NUMBER}"
    return _timed(layout, params, f"""
        WITH lagged AS (
          SELECT {key}, {s.POLL_TIME} AS t,
                 {s.POLL_TIME} - lag({s.POLL_TIME}) OVER (PARTITION BY {key} ORDER BY {s.POLL_TIME})
                   > INTERVAL 5 MINUTE AS opens FROM snaps),
        numbered AS (
          SELECT *, sum(coalesce(opens, false)::INT) OVER (PARTITION BY {key} ORDER BY t) AS session
          FROM lagged)
        SELECT {key}, session, min(t), max(t), count(*) FROM numbered GROUP BY ALL""")


def measure(params: Params, scale: int, root: Path) -> dict[str, Any]:
    """Generate k days' worth of rows, then time the stage and the baseline on them."""
    layout = Layout(params, root / f"k{scale}")
    t0 = time.perf_counter()
    snaps, polls = synth_rows(60 * scale, seed=scale)
    write_day(params, layout, snaps, polls)
    gen_s = time.perf_counter() - t0
    del snaps, polls
    t0 = time.perf_counter()
    result = stage.run(params, layout, DAY)
    stage_s = time.perf_counter() - t0
    base_s = min(group_by_baseline(layout, params) for _ in range(2))
    window_s = min(window_baseline(layout, params) for _ in range(2))
    rows = result["n_snapshot_rows"]
    return {"days_worth": scale, "rows": rows, "departures": result["n_departures"],
            "generate_s": round(gen_s, 2),
            "stage_s": round(stage_s, 3), "stage_rows_per_s": round(rows / stage_s),
            "groupby_s": round(base_s, 3), "groupby_rows_per_s": round(rows / base_s),
            "stage_over_groupby": round(stage_s / base_s, 2),
            "window_s": round(window_s, 3), "window_rows_per_s": round(rows / window_s),
            "stage_over_window": round(stage_s / window_s, 2), "dirty_groups": result["n_dirty_groups"]}


def run(scales: tuple[int, ...] = SCALES) -> dict[str, Any]:
    """Figures per size and the per-row cost trend (linearity)."""
    params = load_params()
    with tempfile.TemporaryDirectory(prefix="bench_detect_") as tmp:
        sizes = [measure(params, k, Path(tmp)) for k in scales]
    per_row_ns = [round(1e9 * x["stage_s"] / x["rows"], 1) for x in sizes]
    return {"sizes": sizes, "stage_ns_per_row": per_row_ns,
            "largest_stage_rows_per_s": sizes[-1]["stage_rows_per_s"],
            "target_rows_per_s": 5_000_000}
