"""The live predictions stream: append-only Parquet files, a folder per service date.

`railcast live` appends one file per batch of decisions (`live/<service date>/<published at>-<digest>
.parquet`, written whole and renamed into place, named so that names sort in publishing order), and
every MERGE_AT files merges them into one (`<first one's time>-m-<digest>.parquet`, written before the
small ones go: a reader in between sees rows twice, which changes no latest row). A reader takes the
latest row of each departure and role: a revision (the train was shown again) supersedes the earlier
row, a withdrawal ends it. DuckDB reads the folder as one table: `read_parquet('live/<date>/*.parquet')`.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s
from pipelines.storage import Layout, read_table, write_parquet


def day_folder(layout: Layout, day: dt.date):
    return layout.dataset("live") / f"{day:%Y-%m-%d}"


def append(layout: Layout, table: pa.Table, published_at: dt.datetime) -> list:
    """Write `table` (LIVE_SCHEMA rows) as one new file per service date; returns the paths."""
    written = []
    for day in sorted(set(table[s.SERVICE_DATE].to_pylist())):
        part = table.filter(pc.equal(table[s.SERVICE_DATE], pa.scalar(day, pa.date32())))
        digest = hashlib.sha1("|".join(part[s.PREDICTION_ID].to_pylist()).encode()).hexdigest()[:12]
        name = f"{published_at.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}-{digest}.parquet"
        written.append(write_parquet(part.cast(s.LIVE_SCHEMA), day_folder(layout, day) / name))
    return written


MERGE_AT = 300   # small files of a day merged into one this often (about every 5 minutes at 1 per second)
MERGED = "-m-"


def merge_small_files(layout: Layout, day: dt.date) -> int:
    """Merge the day's files written one per batch into one file once there are MERGE_AT; returns how
    many were merged (0: not yet)."""
    folder = day_folder(layout, day)
    small = sorted(f for f in folder.glob("*.parquet") if MERGED not in f.name) if folder.exists() else []
    if len(small) < MERGE_AT:
        return 0
    table = pa.concat_tables([read_table(f, schema=s.LIVE_SCHEMA) for f in small])
    digest = hashlib.sha1("|".join(f.name for f in small).encode()).hexdigest()[:12]
    write_parquet(table, folder / f"{small[0].name.split('-')[0]}{MERGED}{digest}.parquet")
    for f in small:
        f.unlink()
    return len(small)


def read_day(layout: Layout, day: dt.date) -> pa.Table:
    """Every row published for service date `day`, in publishing order."""
    folder = day_folder(layout, day)
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    if not files:
        return s.LIVE_SCHEMA.empty_table()
    return pa.concat_tables([read_table(f, schema=s.LIVE_SCHEMA) for f in files])


def latest(table: pa.Table, withdrawn: bool = False) -> pa.Table:
    """The last row of each (departure_id, role), sorted by departure_id; departures whose last row
    withdrew them are left out unless `withdrawn`."""
    if table.num_rows == 0:
        return table
    order = pa.array(range(table.num_rows), pa.int64())
    indexed = table.append_column("_order", order)
    last = indexed.group_by([s.DEPARTURE_ID, s.ROLE]).aggregate([("_order", "max")])
    picked = table.take(last["_order_max"])
    if not withdrawn:
        picked = picked.filter(pc.equal(picked[s.LIVE_STATUS], "live"))
    return picked.take(pc.sort_indices(picked, [(s.DEPARTURE_ID, "ascending"), (s.ROLE, "ascending")]))


class StreamView:
    """What GET /v1/predictions reads: the stream of recent service dates, each file read once."""

    def __init__(self, layout: Layout, keep_days: int = 3) -> None:
        self.layout, self.keep_days = layout, keep_days
        self.tables: dict[dt.date, tuple[set[str], pa.Table]] = {}

    def newest_day(self) -> dt.date | None:
        root = self.layout.dataset("live")
        days = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []
        return dt.date.fromisoformat(days[-1]) if days else None

    def day(self, day: dt.date) -> pa.Table:
        """The latest live row per departure and role of service date `day`."""
        folder = day_folder(self.layout, day)
        files = sorted(folder.glob("*.parquet")) if folder.exists() else []
        names, table = self.tables.get(day, (set(), s.LIVE_SCHEMA.empty_table()))
        if names - {f.name for f in files}:   # small files were merged: read the folder afresh
            names, table = set(), s.LIVE_SCHEMA.empty_table()
        new = [f for f in files if f.name not in names]
        if new:
            table = pa.concat_tables([table, *(read_table(f, schema=s.LIVE_SCHEMA) for f in new)])
            self.tables[day] = (names | {f.name for f in new}, table)
            for old in sorted(self.tables)[:-self.keep_days]:
                del self.tables[old]
        return latest(table)
