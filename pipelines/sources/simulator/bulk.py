"""The bulk path: the snapshot and poll rows that polling every station over an interval would give.

Poll instants sit on a per-station grid anchored at 1970 (phase fixed by seed and station name), so
any split of an interval into hours or days gives the same polls, and an HTTP poller at the same
instants sees the same boards. Jitter and failures are hashed from (seed, station, grid index).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s
from pipelines.config import FaultProfile, Params
from pipelines.sources.simulator.forecast import NULL, Prepared, board_pairs
from pipelines.sources.simulator.source import TruthSource, board_days
from pipelines.timeutil import UTC

FAILED_REASON = "http_503"
_M = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: well-spread 64-bit hashes of integer arrays (wrap-around is intended)."""
    z = x.astype(np.uint64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(seed: int, station: str, salt: int, k: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) numbers per grid index `k`, fixed by (seed, station, salt)."""
    base = int.from_bytes(hashlib.sha1(f"{seed}|{station}|{salt}".encode()).digest()[:8], "big")
    with np.errstate(over="ignore"):
        h = _mix(k.astype(np.uint64) ^ np.uint64(base))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def station_phase(seed: int, station: str, interval_s: int) -> int:
    """Seconds after each grid point at which `station` is polled."""
    return int(_uniform(seed, station, 0, np.zeros(1, np.int64))[0] * interval_s)


def poll_schedule(
    stations: list[str],
    start: dt.datetime,
    end: dt.datetime,
    interval_min: float,
    seed: int,
    faults: FaultProfile | None,
) -> pd.DataFrame:
    """station, poll_s (integer seconds UTC) and failed of every poll in [start, end), sorted."""
    step = int(round(interval_min * 60))
    jitter = min(int(faults.jitter_s), (step - 1) // 2) if faults else 0  # polls never swap places
    lo, hi = int(start.timestamp()), int(end.timestamp())
    parts = []
    for station in sorted(stations):
        phase = station_phase(seed, station, step)
        k = np.arange((lo - phase - jitter) // step, (hi - phase + jitter) // step + 1, dtype=np.int64)
        t = phase + k * step
        if jitter:
            t = t + np.floor(_uniform(seed, station, 1, k) * (2 * jitter + 1)).astype(np.int64) - jitter
        failed = _uniform(seed, station, 2, k) < (faults.failed_poll_share if faults else 0.0)
        keep = (t >= lo) & (t < hi)
        parts.append(pd.DataFrame({s.STATION: station, "poll_s": t[keep], "failed": failed[keep]}))
    if not parts:
        return pd.DataFrame(
            {
                s.STATION: pd.Series(dtype=object),
                "poll_s": pd.Series(dtype=np.int64),
                "failed": pd.Series(dtype=bool),
            }
        )
    return pd.concat(parts, ignore_index=True)


def _instants(secs: np.ndarray) -> pa.Array:
    return pa.array(secs * 1_000_000, pa.int64()).cast(s.TS)


def _delays(values: np.ndarray) -> pa.Array:
    return pa.array(np.where(values == NULL, 0, values).astype(np.int16), pa.int16(), mask=values == NULL)


def _window_days(poll_s: np.ndarray, lookahead_min: int) -> tuple[dt.date, ...]:
    """Every service date a board between the first and the last poll can show."""
    ends = [
        board_days(dt.datetime.fromtimestamp(int(x), UTC), lookahead_min)
        for x in (poll_s.min(), poll_s.max())
    ]
    first, last = ends[0][0], ends[1][-1]
    return tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1))


def _station_codes(names: list[str], stations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of `stations` among the sorted `names`, and whether each is there at all."""
    if not names:
        return np.zeros(len(stations), np.int64), np.zeros(len(stations), bool)
    lookup = np.array(names, dtype=object)
    code = np.clip(np.searchsorted(lookup, stations), 0, len(names) - 1).astype(np.int64)
    return code, lookup[code] == stations


def snapshot_rows(source: TruthSource, polls: pd.DataFrame) -> tuple[pa.Table, np.ndarray]:
    """Snapshot rows (SNAPSHOT_SCHEMA, sorted by SNAPSHOT_KEY) of the successful `polls`; records per poll."""
    prep = source.prepared(_window_days(polls["poll_s"].to_numpy(), source.lookahead_min))
    code, known = _station_codes(prep.stops.station_names, polls[s.STATION].to_numpy(object))
    use = np.flatnonzero(known & ~polls["failed"].to_numpy(bool))
    pairs = board_pairs(prep, code[use], polls["poll_s"].to_numpy(np.int64)[use])
    keep = _sorted_first_per_key(
        prep, pairs
    )  # a run calling twice at a station: the board's first listing wins
    pairs = pairs.iloc[keep]
    table = prep.stops.static.take(pa.array(pairs["row"].to_numpy()))
    shown = pc.if_else(
        pa.array(pairs["platform_known"].to_numpy()), table[s.PLATFORM], table[s.SCHEDULED_PLATFORM]
    )
    table = table.set_column(table.schema.get_field_index(s.PLATFORM), s.PLATFORM, shown)
    table = table.append_column(s.POLL_TIME, _instants(pairs["t"].to_numpy()))
    table = table.append_column(s.DELAY_ARRIVAL, _delays(pairs["delay_arr"].to_numpy()))
    table = table.append_column(s.DELAY_DEPARTURE, _delays(pairs["delay_dep"].to_numpy()))
    table = table.append_column(
        s.REASON_CODES, pa.array(prep.stops.reasons[pairs["known_row"].to_numpy()], pa.string())
    )
    per_poll = np.bincount(use[pairs["poll"].to_numpy()], minlength=len(polls))
    return table.select(s.SNAPSHOT_SCHEMA.names).cast(s.SNAPSHOT_SCHEMA), per_poll


def _sorted_first_per_key(prep: Prepared, pairs: pd.DataFrame) -> np.ndarray:
    """Positions of `pairs` in SNAPSHOT_KEY order (then forecast time), the first of each key only."""
    st, row = prep.stops, pairs["row"].to_numpy()
    number_rank = np.unique(
        st.static.column(s.TRAIN_NUMBER).to_numpy(zero_copy_only=False), return_inverse=True
    )[1]  # code-point order = Arrow's byte order for UTF-8
    day = st.static.column(s.SERVICE_DATE).cast(pa.int32()).to_numpy(zero_copy_only=False)
    keys = (st.station[row], pairs["t"].to_numpy(), day[row], number_rank[row])
    order = np.lexsort((pairs["forecast"].to_numpy(), *keys[::-1]))
    same = np.ones(max(len(order) - 1, 0), bool)
    for key in keys:
        ordered = key[order]
        same &= ordered[1:] == ordered[:-1]
    return order[np.r_[True, ~same]] if len(order) else order


def bulk_interval(
    params: Params, source: TruthSource, start: dt.datetime, end: dt.datetime, faults: bool = True
) -> tuple[pa.Table, pa.Table]:
    """(snapshots, polls) of [start, end): every station of `source` polled every poll_interval_min."""
    sim = params.simulation
    polls = poll_schedule(
        source.names, start, end, sim.poll_interval_min, sim.seed, sim.faults if faults else None
    )
    if polls.empty:
        return s.SNAPSHOT_SCHEMA.empty_table(), s.POLLS_SCHEMA.empty_table()
    snapshots, per_poll = snapshot_rows(source, polls)
    failed = polls["failed"].to_numpy(bool)
    poll_table = pa.table(
        {
            s.STATION: pa.array(polls[s.STATION], pa.string()),
            s.POLL_TIME: _instants(polls["poll_s"].to_numpy()),
            s.POLL_STATUS: pa.array(np.where(failed, "failed", "ok"), pa.string()),
            s.POLL_RECORDS: pa.array(per_poll.astype(np.int32)),
            s.POLL_REASON: pa.array(np.where(failed, FAILED_REASON, None), pa.string()),
        },
        schema=s.POLLS_SCHEMA,
    )
    return snapshots, poll_table.take(
        pc.sort_indices(poll_table, [(s.STATION, "ascending"), (s.POLL_TIME, "ascending")])
    )
