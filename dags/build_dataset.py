"""
### build_dataset

For the service dates that closed in the interval (a date closes `detection.close_after_hours` after
its Berlin midnight) and whose hours are all ingested (others are left to a later run):
`validate_snapshots` -> `detect_departures` -> `build_features` -> `validate_features`, the same
stages as `dvc.yaml`. Runs daily (Europe/Berlin) or when `ingest` updates the `snapshots` asset (then
each event's interval, taken one by one). Each stage refuses a failed
validation gate; a failing task emails an alert. Updates the `features` asset.

Beside them `check_ingested` fails (and emails) while a date of the last week stays unbuilt because
some of its hours were never ingested: a gap in polling is an alert, not a silent skip.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetOrTimeSchedule, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from pipelines.errors import StageError
from pipelines.runtime import orchestration as orch
from pipelines.runtime import schedule
from pipelines.runtime.context import Context
from pipelines.stages import STAGES

FEATURES = Asset(schedule.ASSET_FEATURES)


def day_stage(name: str, outlets: list | None = None):
    """A task running stage `name` over the days its upstream planned (the first task plans them)."""

    @task(multiple_outputs=False, task_id=name, doc_md=STAGES[name], outlets=outlets or [])
    def run(upstream: dict | None = None, data_interval_start=None, data_interval_end=None,
            triggering_asset_events=None) -> dict:
        ctx = Context.from_environment()
        if upstream is None:
            days = orch.planned_days(ctx, data_interval_start, data_interval_end,
                                     orch.event_extras(triggering_asset_events))
            if not days:
                raise AirflowSkipException("no service date closed and fully ingested in this interval")
        else:
            days = orch.parse_days(upstream["days"])
        return {"days": orch.iso_days(days), "results": orch.run_days(ctx, name, days)}

    return run


@task(task_id="check_ingested", doc_md="Fail while a closed date of the last week misses ingested hours "
                                        "(a gap in polling): the message names the dates, hours and fix")
def check_ingested(data_interval_end=None) -> dict:
    ctx = Context.from_environment()
    overdue = orch.overdue_days(ctx, data_interval_end)
    if overdue:
        raise StageError(orch.overdue_message(overdue))
    return {"overdue": {}}


@dag(dag_id="build_dataset", start_date=orch.first_day(), catchup=False, max_active_runs=1,
     schedule=AssetOrTimeSchedule(timetable=orch.daily("build_dataset"),
                                  assets=[Asset(schedule.ASSET_SNAPSHOTS)]),
     default_args=orch.task_defaults(), doc_md=__doc__, tags=["railcast"])
def build_dataset() -> None:
    planned = None
    for name in schedule.BUILD_STAGES:
        is_last = name == schedule.BUILD_STAGES[-1]
        planned = day_stage(name, [FEATURES] if is_last else None)(planned)
    check_ingested()


build_dataset()
