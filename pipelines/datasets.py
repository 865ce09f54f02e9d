"""Reading partitioned datasets: the hour and day partitions a stage needs, and nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s
from pipelines.config import Params
from pipelines.storage import Layout, read_json, read_table
from pipelines.timeutil import hours_between, local_midnight_utc, parse_instant


def close_time(params: Params, day: dt.date) -> dt.datetime:
    """When service date `day` closes: Berlin midnight after it plus detection.close_after_hours."""
    after = dt.timedelta(hours=params.detection.close_after_hours)
    return local_midnight_utc(day + dt.timedelta(days=1)) + after


def is_closed(params: Params, day: dt.date, as_of: dt.datetime) -> bool:
    """Whether service date `day` had closed at `as_of` (no more of its data can arrive)."""
    return close_time(params, day) <= as_of


def closed_days(params: Params, days: list[dt.date], as_of: dt.datetime) -> list[dt.date]:
    """The dates among `days` that had closed at `as_of`, in their order."""
    return [d for d in days if is_closed(params, d, as_of)]


def closed_service_dates(params: Params, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """Service dates whose close time falls in [start, end)."""
    first = (start - dt.timedelta(days=3)).date()
    days = [first + dt.timedelta(days=i) for i in range((end - start).days + 6)]
    return [d for d in days if start <= close_time(params, d) < end]


def service_date_hours(params: Params, day: dt.date) -> list[dt.datetime]:
    """UTC hours whose snapshots can hold rows of service date `day` (Berlin midnight to close)."""
    return hours_between(local_midnight_utc(day), close_time(params, day))


def hour_files(layout: Layout, name: str, hours: list[dt.datetime]) -> list[Path]:
    """Existing hour partitions of dataset `name` among `hours`."""
    return [p for h in hours if (p := layout.hour_file(name, h)).exists()]


def read_hours(layout: Layout, name: str, hours: list[dt.datetime], schema: pa.Schema) -> pa.Table:
    """Concatenate the hour partitions that exist (an empty table of `schema` when none do)."""
    files = hour_files(layout, name, hours)
    if not files:
        return schema.empty_table()
    return pa.concat_tables([read_table(f, schema=schema) for f in files])


def read_service_date_snapshots(params: Params, layout: Layout, day: dt.date) -> pa.Table:
    """All snapshot rows of service date `day`."""
    table = read_hours(layout, "snapshots", service_date_hours(params, day), s.SNAPSHOT_SCHEMA)
    return table.filter(pc.equal(table[s.SERVICE_DATE], pa.scalar(day, pa.date32())))


def read_days(layout: Layout, name: str, days: list[dt.date]) -> pa.Table | None:
    """Concatenate existing day partitions of dataset `name` (None when there are none)."""
    files = [p for d in days if (p := layout.day_file(name, d)).exists()]
    return pa.concat_tables([read_table(f) for f in files], promote_options="default") if files else None


FEATURES_GATE = "validate_features"
INGEST_LEDGERS = "ingest"


def ingest_ledgers(layout: Layout, since: dt.datetime) -> Iterator[dict]:
    """The ledgers of the ingest runs whose interval ended after `since`."""
    for path in (layout.dataset("ledger") / INGEST_LEDGERS).glob("*.json"):
        ledger = read_json(path)
        if parse_instant(ledger["end"]) > since:
            yield ledger


def listed_missing(layout: Layout, since: dt.datetime) -> set[str]:
    """Hour keys an ingest run ending after `since` found no raw data for (its ledger's `missing_hours`):
    the evidence that the poller was expected and down, which the days before a deployment lack."""
    return {key for ledger in ingest_ledgers(layout, since) for key in ledger.get("missing_hours", [])}


def verdict_file(layout: Layout, stage: str, day: dt.date) -> Path:
    """ledger/<stage>/<day>.json: a validation stage's verdict on the batch of `day`."""
    return layout.dataset("ledger") / stage / f"{day:%Y-%m-%d}.json"


def quarantine_file(layout: Layout, stage: str, day: dt.date) -> Path:
    """quarantine/<stage>/<day>.parquet: the rows a validation stage set aside, with the rule they broke."""
    return layout.dataset("quarantine") / stage / f"{day:%Y-%m-%d}.parquet"


def gate_refusal(layout: Layout, stage: str, day: dt.date) -> str | None:
    """None when validation `stage` passed the batch of `day`; else why it cannot be used, naming the
    report to open (a failed batch) or the stage to run (a batch never validated)."""
    path = verdict_file(layout, stage, day)
    if not path.exists():
        return f"{stage} has not validated {day} (no {path}): run it for that day first"
    verdict = read_json(path)
    if verdict.get("verdict") == "passed":
        return None
    rules = ", ".join(verdict.get("failed_expectations") or []) or "a table-level rule"
    return f"{stage} failed the batch of {day} on {rules}: open the report {layout.data / verdict['report']}"


def quarantined(layout: Layout, stage: str, day: dt.date, column: str = s.DEPARTURE_ID) -> set[str]:
    """The distinct `column` values of the rows `stage` quarantined for `day` (empty if none)."""
    path = quarantine_file(layout, stage, day)
    if not path.exists():
        return set()
    values = read_table(path, columns=[column]).column(column).to_pylist()
    return {v for v in values if v is not None}   # a row without an id matches nothing anyway
