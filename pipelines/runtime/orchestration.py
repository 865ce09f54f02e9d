"""What the Airflow tasks call: stages run by name, intervals turned into service dates, ingest.

Every function takes the task's `Context` (built once per task by `Context.from_environment`, or by the
in-process loop from its own params). The monitor and retrain tasks' own functions are in `lifecycle`;
the schedule (cron times, assets, stage order) is in `schedule`.

DAG files import this module at parse time, so its top level imports only the standard library;
`pipelines.config`, the stage modules and everything heavy are imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines.runtime import schedule
from pipelines.runtime.context import Context

log = logging.getLogger(__name__)


def task_defaults() -> dict[str, Any]:
    """default_args of every Railcast DAG: retries with exponential backoff, a timeout, failure alerts."""
    from pipelines.runtime.alerts import on_task_failure

    return {"owner": "railcast", "retries": 2, "retry_delay": dt.timedelta(seconds=30),
            "retry_exponential_backoff": True, "max_retry_delay": dt.timedelta(minutes=10),
            "execution_timeout": dt.timedelta(hours=1), "on_failure_callback": on_task_failure}


def daily(dag_id: str) -> Any:
    """The daily timetable of `dag_id` (schedule.DAILY_AT, Europe/Berlin) with real data intervals."""
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(schedule.cron(dag_id), timezone=schedule.TIMEZONE)


def first_day() -> dt.datetime:
    """DAG start: Berlin midnight of the simulation calendar's first service date (params.yaml)."""
    from zoneinfo import ZoneInfo

    params = Context.from_environment().params
    return dt.datetime.combine(params.simulation.start_date, dt.time(0), tzinfo=ZoneInfo(schedule.TIMEZONE))


def jsonable(value: Any) -> Any:
    """A JSON round trip: what a task returns must be small plain JSON (dates become ISO text)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def instant(value: Any) -> dt.datetime:
    """An aware UTC datetime from a pendulum/datetime or ISO text."""
    from pipelines.timeutil import parse_instant

    if isinstance(value, dt.datetime):
        return parse_instant(dt.datetime.fromisoformat(value.isoformat()))
    return parse_instant(str(value))


def run_stage(ctx: Context, name: str, **kwargs: Any) -> dict:
    """Flush pending alerts, then run stage `name` through its module's `run(params, layout, **kwargs)`."""
    from pipelines.runtime.alerts import flush_outbox
    from pipelines.stages import stage_module

    flush_outbox(ctx.params, ctx.layout)
    result = stage_module(name).run(ctx.params, ctx.layout, **kwargs)
    return jsonable(result)


def closed_days(ctx: Context, start: Any, end: Any) -> list[dt.date]:
    """Service dates that closed within [start, end)."""
    from pipelines.datasets import closed_service_dates

    return closed_service_dates(ctx.params, instant(start), instant(end))


def run_days(ctx: Context, name: str, days: Iterable[dt.date]) -> dict[str, dict]:
    """Run a per-day stage for each service date, in order; {ISO day: result}."""
    return {day.isoformat(): run_stage(ctx, name, day=day) for day in days}


def interval_from(start: Any, end: Any, events: Iterable[Mapping[str, Any]] = ()) -> tuple[str, str]:
    """The window to process: the triggering events' start/end union if any, else the data interval."""
    windows = [(instant(e["start"]), instant(e["end"])) for e in events if e.get("start") and e.get("end")]
    if windows:  # an asset-triggered run: its own interval is only the event timestamps
        return min(w[0] for w in windows).isoformat(), max(w[1] for w in windows).isoformat()
    if start is None or end is None or instant(end) <= instant(start):
        from pipelines.errors import StageError

        raise StageError("no data interval and no triggering event with start/end: nothing to process")
    return instant(start).isoformat(), instant(end).isoformat()


def planned_days(ctx: Context, start: Any, end: Any,
                 events: Iterable[Mapping[str, Any]] = ()) -> list[dt.date]:
    """Service dates to build: closed in each event's window (else the data interval), fully ingested.

    Windows are taken one by one, not as their union: coalesced events of a backfill and of today
    would otherwise span months. A date whose hours are not all ingested yet is left to a later run
    (a timetable tick before its backfill, or today's interval of a deployment without that history).
    """
    from pipelines.datasets import service_date_hours

    windows = [(e["start"], e["end"]) for e in events if e.get("start") and e.get("end")]
    windows = windows or [interval_from(start, end)]
    days = {d for w in windows for d in closed_days(ctx, *w)}
    # Catch up: a date closed in the last week but never built (its snapshots event was coalesced into
    # a run that had already planned, or a tick came before its ingest) is built now, not never.
    latest = max(instant(w[1]) for w in windows)
    missed = closed_days(ctx, latest - dt.timedelta(days=schedule.CATCH_UP_DAYS), latest)
    unbuilt = {d for d in missed if not ctx.layout.day_file("features", d).exists()}
    days = sorted(days | unbuilt)
    ready = [d for d in days if all(ctx.layout.hour_file("polls", h).exists()
                                    for h in service_date_hours(ctx.params, d))]
    if len(ready) < len(days):
        log.info("not fully ingested yet, left for a later run: %s", sorted(set(days) - set(ready)))
    return ready


def ingest_deadline(params: Any, day: dt.date) -> dt.datetime:
    """When service date `day` should be fully ingested: the daily ingest run after its close (the
    interval holding its last hours) plus INGEST_DEADLINE_H of slack for that run and the poller."""
    from pipelines.datasets import close_time
    from pipelines.timeutil import BERLIN

    close, at = close_time(params, day).astimezone(BERLIN), schedule.DAILY_AT["ingest"]
    tick = dt.datetime.combine(close.date() + dt.timedelta(days=int(close.time() > at)), at, tzinfo=BERLIN)
    return tick.astimezone(dt.UTC) + dt.timedelta(hours=schedule.INGEST_DEADLINE_H)


def overdue_days(ctx: Context, end: Any) -> dict[str, list[str]]:
    """Unbuilt dates of the catch-up window past their ingest deadline at `end` that miss hours: a gap
    in polling ({ISO day: missing hours}). A date counts when hours of its own Berlin day were ingested
    (a gap inside it), or when an ingest run found no raw data for its missing hours (the poller down all
    day); the days before a deployment began have neither and are not gaps."""
    from pipelines.datasets import listed_missing, service_date_hours
    from pipelines.timeutil import hour_key, local_midnight_utc

    latest = instant(end) if end is not None else dt.datetime.now(dt.UTC)   # an asset-triggered run
    window = latest - dt.timedelta(days=schedule.CATCH_UP_DAYS)
    found, listed = {}, None
    for day in closed_days(ctx, window, latest):
        if ingest_deadline(ctx.params, day) > latest or ctx.layout.day_file("features", day).exists():
            continue
        hours = service_date_hours(ctx.params, day)
        missing = [h for h in hours if not ctx.layout.hour_file("polls", h).exists()]
        if not missing:
            continue
        own_day = {h for h in hours if h < local_midnight_utc(day + dt.timedelta(days=1))}
        if listed is None:   # read the ledgers once, only when some date misses hours
            listed = listed_missing(ctx.layout, window - dt.timedelta(days=2))
        if own_day - set(missing) or {hour_key(h) for h in missing} & listed:
            found[day.isoformat()] = [hour_key(h) for h in missing]
    return found


def overdue_message(found: Mapping[str, list[str]]) -> str:
    """What the operator reads in the failed task and its email: the dates, the hours, what to do."""
    lines = [f"  {day}: {len(hours)} hour(s) never ingested ({hours[0]} .. {hours[-1]})"
             for day, hours in sorted(found.items())]
    return (f"{len(found)} closed service date(s) cannot be built, hours were never ingested (a gap in "
            f"polling?):\n" + "\n".join(lines) + "\nIf the raw archive has them now, re-run `railcast "
            "ingest --start HOUR --end HOUR+1h`; if the poller was down, record the gap with `railcast "
            "ingest --start HOUR --end HOUR+1h --record-gaps` and the date is built with its hole.")


def event_extras(triggering_asset_events: Any) -> list[dict]:
    """The `extra` dicts of a run's triggering asset events (empty for scheduled or manual runs)."""
    if not triggering_asset_events:
        return []
    return [dict(e.extra or {}) for events in triggering_asset_events.values() for e in events]


def ingest_interval(ctx: Context, start: Any, end: Any, source: str, scenario: str | None = None) -> dict:
    """Generate the interval with the simulator's bulk path (source `simulator`) or normalize raw polls."""
    if source == schedule.SOURCE_SIMULATOR:
        return run_stage(ctx, "simulate", start=instant(start), end=instant(end), scenario=scenario or None)
    from pipelines.runtime import alerts, disk

    late_since = instant(end) - dt.timedelta(days=schedule.CATCH_UP_DAYS)
    result = run_stage(ctx, "ingest", start=instant(start), end=instant(end), late_since=late_since)
    if result["late"]["built_dates"]:   # re-ingested, but those dates were built without them
        alerts.raise_alert(ctx.params, ctx.layout, alerts.late_raw_alert(result["late"], instant(end)))
    return {**result, "low_disk": disk.check_disk(ctx.params, ctx.layout, instant(end))}


def iso_days(days: Iterable[dt.date]) -> list[str]:
    """Service dates as ISO text: what crosses XCom."""
    return [d.isoformat() for d in days]


def parse_days(days: Iterable[str]) -> list[dt.date]:
    """ISO service dates from XCom back to dates."""
    return [dt.date.fromisoformat(d) for d in days]
