"""Raw data that reaches the archive after its hour was ingested (a spool shipped late, a writer that
came back): found by comparing each hour's raw bytes now with what the ingest ledgers recorded.

Ingest records an hour's raw size before it reads the hour, so bytes appended while it reads count as
late and are read again: a re-ingest rewrites identical bytes when nothing changed, never less.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.config import Params
from pipelines.datasets import ingest_ledgers, service_date_hours
from pipelines.sources.dbf.archive import raw_dir
from pipelines.storage import DataPath, Layout
from pipelines.timeutil import hour_key


def raw_size(raw_root: DataPath, hour: dt.datetime) -> int:
    """Bytes of every writer's archive file of one UTC hour (0 when there is none)."""
    folder = raw_dir(raw_root, hour)
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size if isinstance(p, Path) else p.fs.get_file_info(p.key).size
               for p in folder.glob("*.jsonl.gz"))


def recorded_sizes(layout: Layout, since: dt.datetime) -> dict[str, int]:
    """Hour key -> the most raw bytes any ingest ledger ending after `since` recorded for it (an hour
    of such a ledger without raw data counts 0; ledgers older than sizes, none)."""
    out: dict[str, int] = {}
    for ledger in ingest_ledgers(layout, since):
        if "raw_bytes" not in ledger:
            continue
        for key in [*ledger["hours"], *ledger.get("missing_hours", []), *ledger.get("gaps", [])]:
            out[key] = max(out.get(key, 0), ledger["raw_bytes"].get(key, 0))
    return out


def late_hours(layout: Layout, since: dt.datetime) -> list[dt.datetime]:
    """UTC hours ingested since `since` whose raw archive has grown since."""
    raw = layout.dataset("raw")
    recorded = {key: size for key, size in recorded_sizes(layout, since).items() if hour_key(since) <= key}
    hours = {key: dt.datetime.strptime(key, "%Y-%m-%dT%H").replace(tzinfo=dt.UTC) for key in recorded}
    return sorted(hour for key, hour in hours.items() if raw_size(raw, hour) > recorded[key])


def built_dates(params: Params, layout: Layout, hours: list[dt.datetime]) -> list[str]:
    """The service dates among those `hours` belong to that were already built (features exist)."""
    candidates = {h.date() + dt.timedelta(days=i) for h in hours for i in (-1, 0, 1)}
    return [d.isoformat() for d in sorted(candidates) if layout.day_file("features", d).exists()
            and set(hours) & set(service_date_hours(params, d))]
