"""
### retrain

Triggered by the `drift` asset (data-aware, never a cron) or manually with conf
`{"reason": "...", "as_of": "ISO instant"}`. `as_of` comes from the drift event's `window_end` or the
conf, never from the run's own time (asset-triggered runs have no logical date).

`train` -> `evaluate` (champion/challenger gate) -> `promote` (in the one-slot `registry` pool) ->
`notify` (emails the decision: promoted, or refused with its reason). One run at a time.

With conf `{"dry_run": true}` (manual or beside a drift event's run) the chosen version is trained and
evaluated and its decision recorded (`decision-v<N>-dry.json`), but no alias moves; the email says what
the gate would have done.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

from pipelines.runtime import lifecycle, schedule
from pipelines.runtime import orchestration as orch
from pipelines.runtime.context import Context
from pipelines.stages import STAGES


@dag(dag_id="retrain", schedule=[Asset(schedule.ASSET_DRIFT)], start_date=orch.first_day(), catchup=False,
     max_active_runs=1, default_args=orch.task_defaults(), doc_md=__doc__, tags=["railcast"],
     params={"reason": Param(None, type=["null", "string"], description="why (manual runs)"),
             "as_of": Param(None, type=["null", "string"], description="ISO instant (manual runs)"),
             "dry_run": Param(False, type="boolean",
                              description="evaluate and record the decision, move no alias")})
def retrain() -> None:
    @task(multiple_outputs=False, task_id="train", doc_md=STAGES["train"])
    def train(params=None, triggering_asset_events=None) -> dict:
        conf = {k: params.get(k) for k in ("reason", "as_of", "dry_run") if params.get(k)}
        request = lifecycle.retrain_request(conf, orch.event_extras(triggering_asset_events))
        return lifecycle.train_model(Context.from_environment(), request)

    @task(multiple_outputs=False, task_id="evaluate", doc_md=STAGES["evaluate"])
    def evaluate(trained: dict) -> dict:
        return lifecycle.evaluate_model(Context.from_environment(), trained)

    @task(multiple_outputs=False, task_id="promote", doc_md=STAGES["promote"], pool=schedule.REGISTRY_POOL)
    def promote(decision: dict, dag_run=None) -> dict:
        return lifecycle.promote_model(Context.from_environment(), decision,
                                       actor=f"airflow:{dag_run.dag_id}/{dag_run.run_id}")

    @task(multiple_outputs=False, task_id="notify",
          doc_md="Email the decision: promoted, or refused with the gate's reason.")
    def notify(decision: dict, promotion: dict) -> dict:
        return lifecycle.notify_decision(Context.from_environment(), decision, promotion)

    decision = evaluate(train())
    notify(decision, promote(decision))


retrain()
