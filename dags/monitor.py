"""
### monitor

Daily (Europe/Berlin, 04:00, after `score`): drift and performance checks for the service dates that
closed in the interval. It emails the alerts the monitor asks for (once per incident: a deferred
drift, a retrain, an empty window). On a `retrain` verdict it emits an event on the `drift` asset
(through an asset alias, only then) whose extra carries `window_end` (the interval end, the retrain's
`as_of`) and the evidence, once per service date: a later run re-checking that date emits nothing
(a retry of the same run does). The task stays green either way.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias, dag, task

from pipelines.runtime import lifecycle, schedule
from pipelines.runtime import orchestration as orch
from pipelines.runtime.context import Context
from pipelines.stages import STAGES

DRIFT = AssetAlias(schedule.DRIFT_ALIAS)


@dag(dag_id="monitor", schedule=orch.daily("monitor"), start_date=orch.first_day(), catchup=False,
     max_active_runs=1, default_args=orch.task_defaults(), doc_md=__doc__, tags=["railcast"])
def monitor_dag() -> None:
    @task(multiple_outputs=False, task_id="monitor", doc_md=STAGES["monitor"], outlets=[DRIFT])
    def monitor(data_interval_start=None, data_interval_end=None, outlet_events=None, run_id=None) -> dict:
        ctx = Context.from_environment()
        days = orch.closed_days(ctx, data_interval_start, data_interval_end)
        events = lifecycle.monitor_days(ctx, days, data_interval_end, emitter=f"airflow:{run_id}")
        for extra in events:
            outlet_events[DRIFT].add(Asset(schedule.ASSET_DRIFT), extra=extra)
        return {"days": orch.iso_days(days), "drift_events": len(events)}

    monitor()


monitor_dag()
