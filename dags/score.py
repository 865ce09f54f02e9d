"""
### score

Daily (Europe/Berlin, 03:00, after `build_dataset`): scores the departures of the service dates that
closed in the interval with the champion, and with the first champion ever promoted in shadow.
Writes `predictions/<day>.parquet`; re-running a day rewrites identical bytes.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from pipelines.runtime import orchestration as orch
from pipelines.runtime.context import Context
from pipelines.stages import STAGES


@dag(dag_id="score", schedule=orch.daily("score"), start_date=orch.first_day(), catchup=False,
     max_active_runs=1, default_args=orch.task_defaults(), doc_md=__doc__, tags=["railcast"])
def score_dag() -> None:
    @task(multiple_outputs=False, task_id="score", doc_md=STAGES["score"])
    def score(data_interval_start=None, data_interval_end=None) -> dict:
        ctx = Context.from_environment()
        days = orch.closed_days(ctx, data_interval_start, data_interval_end)
        return {"days": orch.iso_days(days), "results": orch.run_days(ctx, "score", days)}

    score()


score_dag()
