"""The board rows the live scorer keeps for features: per open service date, the last ROW_HOLD of polls.

Poll tables are appended as they come and merged every COMPACT_EVERY polls into one block whose text
columns are dictionary-encoded (board rows repeat the same routes, names and labels), so the store
costs about a tenth of the plain rows and a filter touches few chunks.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s

COMPACT_EVERY = 256                # poll tables of a day merged into one block this often
ROW_HOLD = dt.timedelta(hours=6)   # a train's rows are read while it is shown (lookahead 3 h, plus its
                                   # delay) and context features read the last hour


class RowStore:
    """Board rows per service date, for `rows_for` the departures decided now."""

    def __init__(self) -> None:
        self.days: dict[dt.date, list[pa.Table]] = defaultdict(list)   # blocks, then fresh poll tables
        self.fresh: Counter = Counter()

    def add(self, day: dt.date, rows: pa.Table, clock: dt.datetime) -> None:
        self.days[day].append(rows)
        self.fresh[day] += 1
        if self.fresh[day] == COMPACT_EVERY:
            self._compact(day, clock)

    def _compact(self, day: dt.date, clock: dt.datetime) -> None:
        pieces, n = self.days[day], self.fresh[day]
        block = pa.concat_tables(pieces[-n:]).combine_chunks()
        block = block.cast(pa.schema([pa.field(f.name, pa.dictionary(pa.int32(), f.type))
                                      if pa.types.is_string(f.type) else f for f in block.schema]))
        floor = clock - ROW_HOLD
        kept = [p for p in pieces[:-n] if pc.max(p[s.POLL_TIME]).as_py() >= floor]
        self.days[day] = [*kept, block] if block.num_rows else kept
        self.fresh[day] = 0

    def rows_for(self, day: dt.date, departures: pd.DataFrame, window: dt.timedelta) -> pd.DataFrame:
        """Rows of `day` with the departures' train numbers, or inside `window` before one's t_pred."""
        pieces = self.days.get(day)
        if not pieces:
            return s.SNAPSHOT_SCHEMA.empty_table().to_pandas()
        table = pa.concat_tables([p.cast(s.SNAPSHOT_SCHEMA) for p in pieces])
        t_pred = departures[s.LAST_SEEN]
        lo, hi = pa.scalar(t_pred.min() - window, s.TS), pa.scalar(t_pred.max(), s.TS)
        near = pc.and_(pc.greater(table[s.POLL_TIME], lo), pc.less_equal(table[s.POLL_TIME], hi))
        own = pc.is_in(table[s.TRAIN_NUMBER], pa.array(departures[s.TRAIN_NUMBER].unique()))
        return table.filter(pc.or_(near, own)).to_pandas()

    def forget(self, day: dt.date) -> None:
        self.days.pop(day, None)
        self.fresh.pop(day, None)

    @property
    def size(self) -> int:
        """Rows held."""
        return sum(t.num_rows for pieces in self.days.values() for t in pieces)
