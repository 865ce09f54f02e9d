"""
### ingest

Daily (Europe/Berlin) interval of departure-board polls into `snapshots` and `polls` hour partitions.

* `source: raw` (default): `ingest` normalizes the raw polls the poller archived in the interval and
  records the ledger.
* `source: simulator` (backfills, the demo): `simulate` first generates the interval with the
  simulator's bulk path (optional `scenario`); `ingest` then records the ledger of the (empty) raw archive.

Then hours of the last week whose raw data grew after they were ingested (a spool shipped late) are
ingested again; a date already built without them is named in an alert email with the rebuild command.
On success the `snapshots` asset gets an event carrying the interval (`start`, `end`), which triggers
`build_dataset`. Re-running a day rewrites identical partitions.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from pipelines.runtime import orchestration as orch
from pipelines.runtime import schedule
from pipelines.runtime.context import Context
from pipelines.stages import STAGES

SNAPSHOTS = Asset(schedule.ASSET_SNAPSHOTS)


@dag(dag_id="ingest", schedule=orch.daily("ingest"), start_date=orch.first_day(), catchup=False,
     max_active_runs=4, default_args=orch.task_defaults(), doc_md=__doc__, tags=["railcast"],
     params={"source": Param(schedule.SOURCE_RAW, enum=[schedule.SOURCE_RAW, schedule.SOURCE_SIMULATOR],
                             description="raw: normalize archived polls; simulator: generate the interval"),
             "scenario": Param(None, type=["null", "string"],
                               description="simulator scenario (params.yaml simulation.scenarios)")})
def ingest_dag() -> None:
    @task(multiple_outputs=False, task_id="simulate", doc_md=STAGES["simulate"])
    def simulate(params=None, data_interval_start=None, data_interval_end=None) -> dict:
        if params["source"] != schedule.SOURCE_SIMULATOR:
            raise AirflowSkipException("source is raw: nothing to generate")
        return orch.ingest_interval(Context.from_environment(), data_interval_start, data_interval_end,
                                    schedule.SOURCE_SIMULATOR, params.get("scenario"))

    @task(multiple_outputs=False, task_id="ingest", doc_md=STAGES["ingest"], outlets=[SNAPSHOTS],
          trigger_rule="none_failed")
    def ingest(data_interval_start=None, data_interval_end=None, outlet_events=None) -> dict:
        result = orch.ingest_interval(Context.from_environment(), data_interval_start, data_interval_end,
                                      schedule.SOURCE_RAW)
        start, end = orch.interval_from(data_interval_start, data_interval_end)
        outlet_events[SNAPSHOTS].extra = {"start": start, "end": end}
        return result

    simulate() >> ingest()


ingest_dag()
