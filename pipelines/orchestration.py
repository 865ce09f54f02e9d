"""What the Airflow tasks call: stages run by name, intervals turned into service dates, ingest.

The monitor and retrain tasks' own functions (drift events, the retrain chain) are in `lifecycle`.

DAG files import this module at parse time, so its top level imports only the standard library;
`pipelines.config`, the stage modules and everything heavy are imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

TIMEZONE = "Europe/Berlin"
ASSET_SNAPSHOTS = "railcast://snapshots"
ASSET_FEATURES = "railcast://features"
ASSET_DRIFT = "railcast://drift"
DRIFT_ALIAS = "railcast-drift"
REGISTRY_POOL = "registry"       # one slot: alias moves and DVC writers run one at a time
SOURCE_SIMULATOR = "simulator"
SOURCE_RAW = "raw"
INGEST_STAGES = ("ingest",)
BUILD_STAGES = ("validate_snapshots", "detect_departures", "build_features", "validate_features")
RETRAIN_STAGES = ("train", "evaluate", "promote")
CATCH_UP_DAYS = 7                # build_dataset also builds unbuilt dates closed this long before its window
DAG_IDS = ("ingest", "build_dataset", "monitor", "retrain", "score")


def task_defaults() -> dict[str, Any]:
    """default_args of every Railcast DAG: retries with exponential backoff, a timeout, failure alerts."""
    from pipelines.alerts import on_task_failure

    return {"owner": "railcast", "retries": 2, "retry_delay": dt.timedelta(seconds=30),
            "retry_exponential_backoff": True, "max_retry_delay": dt.timedelta(minutes=10),
            "execution_timeout": dt.timedelta(hours=1), "on_failure_callback": on_task_failure}


def daily(cron: str) -> Any:
    """A daily timetable in Europe/Berlin with real data intervals (Airflow 3's cron default has none)."""
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(cron, timezone=TIMEZONE)


def first_day() -> dt.datetime:
    """DAG start: Berlin midnight of the simulation calendar's first service date (params.yaml)."""
    from zoneinfo import ZoneInfo

    from pipelines.config import load_params

    params = load_params(os.environ.get("RAILCAST_PARAMS") or None)
    day = dt.date.fromisoformat(str(params.simulation.start_date))
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(TIMEZONE))


def environment() -> tuple[Any, Any]:
    """(params, layout) for a task: params.yaml or $RAILCAST_PARAMS, data root $RAILCAST_HOME."""
    from pipelines.config import load_params
    from pipelines.storage import Layout

    params = load_params(os.environ.get("RAILCAST_PARAMS") or None)
    return params, Layout(params)


def jsonable(value: Any) -> Any:
    """A JSON round trip: what a task returns must be small plain JSON (dates become ISO text)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def instant(value: Any) -> dt.datetime:
    """An aware UTC datetime from a pendulum/datetime or ISO text."""
    from pipelines.timeutil import parse_instant

    if isinstance(value, dt.datetime):
        return parse_instant(dt.datetime.fromisoformat(value.isoformat()))
    return parse_instant(str(value))


def run_stage(name: str, **kwargs: Any) -> dict:
    """Flush pending alerts, then run stage `name` through its module's `run(params, layout, **kwargs)`."""
    from pipelines.alerts import flush_outbox
    from pipelines.stages import stage_module

    params, layout = environment()
    flush_outbox(params, layout)
    result = stage_module(name).run(params, layout, **kwargs)
    return jsonable(result)


def closed_days(start: Any, end: Any) -> list[str]:
    """ISO service dates that closed within [start, end)."""
    from pipelines.datasets import closed_service_dates

    params, _ = environment()
    return [d.isoformat() for d in closed_service_dates(params, instant(start), instant(end))]


def run_days(name: str, days: Iterable[str]) -> dict[str, dict]:
    """Run a per-day stage for each ISO service date, in order; {day: result}."""
    return {day: run_stage(name, day=dt.date.fromisoformat(day)) for day in days}


def interval_from(start: Any, end: Any, events: Iterable[Mapping[str, Any]] = ()) -> tuple[str, str]:
    """The window to process: the triggering events' start/end union if any, else the data interval."""
    windows = [(instant(e["start"]), instant(e["end"])) for e in events if e.get("start") and e.get("end")]
    if windows:  # an asset-triggered run: its own interval is only the event timestamps
        return min(w[0] for w in windows).isoformat(), max(w[1] for w in windows).isoformat()
    if start is None or end is None or instant(end) <= instant(start):
        from pipelines.errors import StageError

        raise StageError("no data interval and no triggering event with start/end: nothing to process")
    return instant(start).isoformat(), instant(end).isoformat()


def planned_days(start: Any, end: Any, events: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """ISO service dates to build: closed in each event's window (else the data interval), fully ingested.

    Windows are taken one by one, not as their union: coalesced events of a backfill and of today
    would otherwise span months. A date whose hours are not all ingested yet is left to a later run
    (a timetable tick before its backfill, or today's interval of a deployment without that history).
    """
    from pipelines.datasets import service_date_hours

    windows = [(e["start"], e["end"]) for e in events if e.get("start") and e.get("end")]
    windows = windows or [interval_from(start, end)]
    params, layout = environment()
    days = {d for w in windows for d in closed_days(*w)}
    # Catch up: a date closed in the last week but never built (its snapshots event was coalesced into
    # a run that had already planned, or a tick came before its ingest) is built now, not never.
    latest = max(instant(w[1]) for w in windows)
    missed = closed_days(latest - dt.timedelta(days=CATCH_UP_DAYS), latest)
    unbuilt = {d for d in missed if not layout.day_file("features", dt.date.fromisoformat(d)).exists()}
    days = sorted(days | unbuilt)
    ready = [d for d in days if all(layout.hour_file("polls", h).exists()
                                    for h in service_date_hours(params, dt.date.fromisoformat(d)))]
    if len(ready) < len(days):
        log.info("not fully ingested yet, left for a later run: %s", sorted(set(days) - set(ready)))
    return ready


def event_extras(triggering_asset_events: Any) -> list[dict]:
    """The `extra` dicts of a run's triggering asset events (empty for scheduled or manual runs)."""
    if not triggering_asset_events:
        return []
    return [dict(e.extra or {}) for events in triggering_asset_events.values() for e in events]


def ingest_interval(start: Any, end: Any, source: str, scenario: str | None = None) -> dict:
    """Generate the interval with the simulator's bulk path (source `simulator`) or normalize raw polls."""
    if source == SOURCE_SIMULATOR:
        return run_stage("simulate", start=instant(start), end=instant(end), scenario=scenario or None)
    return run_stage("ingest", start=instant(start), end=instant(end))
