"""Vectorized departure detection in DuckDB: the last session of each train on a station's good polls.

The rules are listed in docs/RAIL_FACTS.md section 2 ("Railcast's detection rules");
`sessionize_reference` implements the same rules row by row, and the property tests compare the two.

Speed: almost every train is seen on every good poll between its first and last sighting, so one
group-by pass settles it: the count of rows equals the count of the station's good polls in that
span, and a bitmask of 2-minute buckets (mod 128) with one bit per row proves the rows are distinct
polls. A false alarm (polls under 2 min apart, bucket wrap) only sends a group to the exact window-
function path, which runs on those groups alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s
from pipelines.detection.ids import departure_id

INPUT_COLUMNS = (s.STATION, s.POLL_TIME, s.SERVICE_DATE, s.TRAIN_NUMBER, s.TRAIN, s.CATEGORY, s.DESTINATION,
                 s.ROUTE, s.SCHEDULED_DEPARTURE, s.DELAY_DEPARTURE, s.IS_CANCELLED, s.PLATFORM,
                 s.SCHEDULED_PLATFORM)
KEY = (s.STATION, s.SERVICE_DATE, s.TRAIN_NUMBER)
# Carried from the last sighting; also the order that picks one of several rows of the same poll.
LAST_SHOWN = (s.DELAY_DEPARTURE, s.IS_CANCELLED, s.SCHEDULED_DEPARTURE, s.DESTINATION, s.ROUTE, s.TRAIN,
              s.CATEGORY)
BUCKET_US = 120 * 1_000_000   # duplicate check: polls of a station are normally >= 2 min apart
N_BUCKETS = 128               # two 64-bit masks
_US = dt.timedelta(microseconds=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# Template names -> column names; times run as integer microseconds `t` inside (faster aggregates).
# arg_max_null, not arg_max: arg_max skips null values, but a null shown last is what was shown.
C = {"station": s.STATION, "poll_time": s.POLL_TIME, "status": s.POLL_STATUS, "platform": s.PLATFORM,
     "scheduled_platform": s.SCHEDULED_PLATFORM, "key": ", ".join(KEY),
     "last_shown": ", ".join(f"arg_max_null({c}, t) AS {c}" for c in LAST_SHOWN),
     "tiebreak": ", ".join(f"{c} DESC NULLS LAST" for c in LAST_SHOWN),
     "bucket_us": BUCKET_US, "n_buckets": N_BUCKETS}


@dataclass(frozen=True)
class Window:
    """The session window: gap and grace of params.detection, and the close time of the service date."""

    gap: dt.timedelta
    grace: dt.timedelta
    close: dt.datetime

    @property
    def gap_us(self) -> int:
        return self.gap // _US

    @property
    def wait_us(self) -> int:
        """Microseconds from last_seen to the decision: gap + grace."""
        return (self.gap + self.grace) // _US


GOOD_POLLS = """
CREATE OR REPLACE TEMP TABLE good AS
SELECT {station}, t, row_number() OVER (PARTITION BY {station} ORDER BY t) AS r
FROM (SELECT {station}, epoch_us({poll_time}) AS t FROM polls WHERE {status} = 'ok'
      UNION SELECT DISTINCT {station}, t FROM snaps_t)
"""

# One pass over all rows; the last-shown values are only used for groups found clean below.
GROUPS = """
CREATE OR REPLACE TEMP TABLE grp AS
SELECT {key}, count(*) AS n_rows, min(t) AS first_t, max(t) AS last_t,
       bit_or(CASE WHEN b < 64 THEN 1::UBIGINT << b::UBIGINT ELSE 0::UBIGINT END) AS m_lo,
       bit_or(CASE WHEN b >= 64 THEN 1::UBIGINT << (b - 64)::UBIGINT ELSE 0::UBIGINT END) AS m_hi,
       bool_or({platform} <> {scheduled_platform}) AS changed, {last_shown}
FROM (SELECT *, (t // {bucket_us}) % {n_buckets} AS b FROM snaps_t)
GROUP BY {key}
"""

# Clean: one row per good poll of the station from first to last sighting (no two rows in one bucket).
# bit_count gives TINYINT: widen before adding, a group can fill all 128 buckets.
SESSIONS = """
CREATE OR REPLACE TEMP TABLE sessions AS
SELECT g.* EXCLUDE (m_lo, m_hi),
       g.n_rows = l.r - f.r + 1 AND bit_count(m_lo)::INTEGER + bit_count(m_hi)::INTEGER = g.n_rows AS clean
FROM grp g JOIN good f ON f.{station} = g.{station} AND f.t = g.first_t
           JOIN good l ON l.{station} = g.{station} AND l.t = g.last_t
"""

# Groups with missed polls or duplicates: dedupe, find session breaks, aggregate the last session.
DIRTY = """
CREATE OR REPLACE TEMP TABLE dirty AS
WITH rows AS (
  SELECT * FROM snaps_t SEMI JOIN (SELECT {key} FROM sessions WHERE NOT clean) d USING ({key})),
dedup AS (
  SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY {key}, t ORDER BY {tiebreak}) AS rn FROM rows)
  WHERE rn = 1),
nxt AS (SELECT *, lead(t) OVER (PARTITION BY {key} ORDER BY t) AS next_t FROM dedup),
ev AS (
  SELECT n.*, g.t AS evidence_t FROM nxt n
  ASOF LEFT JOIN good g ON n.{station} = g.{station} AND n.t + {gap_us} <= g.t),
brk AS (
  SELECT *, max(CASE WHEN evidence_t < next_t THEN t END) OVER (PARTITION BY {key}) AS break_t FROM ev)
SELECT {key}, count(*) AS n_rows, min(t) AS first_t, max(t) AS last_t,
       bool_or({platform} <> {scheduled_platform}) AS changed, {last_shown}, true AS clean
FROM brk WHERE break_t IS NULL OR t > break_t
GROUP BY {key}
"""


def sessionize(con: duckdb.DuckDBPyConnection, window: Window) -> int:
    """Temp table `sessions`: the last session of every group of view `snaps`; returns the dirty count."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW snaps_t AS SELECT *, epoch_us({s.POLL_TIME}) AS t FROM snaps")
    for template in (GOOD_POLLS, GROUPS, SESSIONS):
        con.execute(template.format(**C))
    n_dirty = con.execute("SELECT count(*) FROM sessions WHERE NOT clean").fetchone()[0]
    if n_dirty:
        con.execute(DIRTY.format(**C, gap_us=window.gap_us))
        con.execute("DELETE FROM sessions WHERE NOT clean")
        con.execute("INSERT INTO sessions BY NAME SELECT * FROM dirty")
    return n_dirty


DECIDE = """
CREATE OR REPLACE TEMP TABLE decided AS
SELECT x.*, CASE WHEN x.{scheduled_departure} IS NULL OR x.{destination} = x.{station} THEN 'terminating'
                 WHEN x.last_t + {wait_us} > {close_us} OR e.t IS NULL OR e.t > {close_us} THEN 'undecided'
                 ELSE 'decided' END AS state, n.t AS next_t
FROM sessions x JOIN good l ON l.{station} = x.{station} AND l.t = x.last_t
LEFT JOIN good n ON n.{station} = x.{station} AND n.r = l.r + 1
ASOF LEFT JOIN good e ON x.{station} = e.{station} AND x.last_t + {gap_us} <= e.t
"""

OUTPUT = """
SELECT {key}, {train}, {category}, {destination}, string_split({route}, '|')[-1] AS {planned_destination},
       {route}, {scheduled_departure}, make_timestamp(first_t)::TIMESTAMPTZ AS {first_seen},
       make_timestamp(last_t)::TIMESTAMPTZ AS {last_seen}, n_rows AS {n_polls}, {delay_departure},
       CASE WHEN coalesce({is_cancelled}, false) THEN NULL
            ELSE least(greatest({scheduled_departure} + to_minutes(coalesce({delay_departure}, 0)::BIGINT),
                                make_timestamp(last_t)::TIMESTAMPTZ), make_timestamp(next_t)::TIMESTAMPTZ)
            END AS {departure_estimate},
       coalesce({is_cancelled}, false) AS {is_cancelled}, coalesce(changed, false) AS {platform_changed},
       make_timestamp(last_t + {wait_us})::TIMESTAMPTZ AS {decided_at}
FROM decided WHERE state = 'decided'
"""
C.update({"train": s.TRAIN, "category": s.CATEGORY, "destination": s.DESTINATION, "route": s.ROUTE,
          "scheduled_departure": s.SCHEDULED_DEPARTURE, "delay_departure": s.DELAY_DEPARTURE,
          "is_cancelled": s.IS_CANCELLED, "planned_destination": s.PLANNED_DESTINATION,
          "first_seen": s.FIRST_SEEN, "last_seen": s.LAST_SEEN, "n_polls": s.N_POLLS,
          "departure_estimate": s.DEPARTURE_ESTIMATE, "platform_changed": s.PLATFORM_CHANGED,
          "decided_at": s.DECIDED_AT})


def decide(con: duckdb.DuckDBPyConnection, window: Window) -> tuple[pa.Table, dict[str, int]]:
    """Departures decided by `window.close` (sorted by departure_id) and the count of groups per state."""
    fmt = {"gap_us": window.gap_us, "wait_us": window.wait_us, "close_us": (window.close - EPOCH) // _US}
    con.execute(DECIDE.format(**C, **fmt))
    counts = dict(con.execute("SELECT state, count(*) FROM decided GROUP BY state").fetchall())
    table = con.sql(OUTPUT.format(**C, **fmt)).to_arrow_table()
    # str(date) is its ISO form, so departure_id sees the same text from a cast string (much faster)
    key = [table[c].cast(pa.string()).to_pylist() for c in KEY]
    ids = [departure_id(d, n, st) for st, d, n in zip(*key, strict=True)]
    table = table.add_column(0, s.DEPARTURE_ID, pa.array(ids, pa.string()))
    table = table.take(pc.sort_indices(table, [(s.DEPARTURE_ID, "ascending")]))
    return table.select(s.DEPARTURES_SCHEMA.names).cast(s.DEPARTURES_SCHEMA), counts


def detect_in(con: duckdb.DuckDBPyConnection, window: Window) -> tuple[pa.Table, dict[str, int]]:
    """Departures from views `snaps` and `polls` in `con`, and counts (groups per state, rows, dirty)."""
    n_dirty = sessionize(con, window)
    n_rows = con.execute("SELECT coalesce(sum(n_rows), 0) FROM grp").fetchone()[0]
    table, counts = decide(con, window)
    return table, {"decided": 0, "undecided": 0, "terminating": 0, **counts, "dirty_groups": n_dirty,
                   "rows": int(n_rows)}


def detect(snapshots: pa.Table, polls: pa.Table, window: Window) -> tuple[pa.Table, dict[str, int]]:
    """Departures of the snapshot rows given (any service dates), and counts; see the module rules."""
    con = connect()
    con.register("snaps_in", snapshots)
    con.register("polls", polls)
    con.execute(f"CREATE OR REPLACE TEMP VIEW snaps AS SELECT {', '.join(INPUT_COLUMNS)} FROM snaps_in")
    try:
        return detect_in(con, window)
    finally:
        con.close()


def connect(threads: int = 2) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC with a fixed thread count."""
    con = duckdb.connect(config={"threads": threads})
    con.execute("SET TimeZone = 'UTC'")
    return con
