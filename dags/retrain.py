"""
### retrain

Triggered by the `drift` asset (data-aware, never a cron) or manually with conf
`{"reason": "...", "as_of": "ISO instant"}`. `as_of` comes from the drift event's `window_end` or the
conf, never from the run's own time (asset-triggered runs have no logical date).

`train` -> `evaluate` (champion/challenger gate) -> `promote` (in the one-slot `registry` pool) ->
`notify` (emails the decision: promoted, or refused with its reason). One run at a time.

With `gate.require_approval: true` in params.yaml, a decision that passed the gate waits at `approve`
(Airflow's Required Actions, the checks shown) for a human: Approve promotes it, Reject (or no answer in
`gate.approval_timeout_h`) keeps the champion; the answer and its comment go into the registry audit.
Otherwise `approval_needed` skips the step.

With conf `{"dry_run": true}` (manual or beside a drift event's run) the chosen version is trained and
evaluated and its decision recorded (`decision-v<N>-dry.json`), but no alias moves; the email says what
the gate would have done.
"""

from __future__ import annotations

from airflow.providers.standard.operators.hitl import HITLOperator
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

    @task.short_circuit(task_id="approval_needed", ignore_downstream_trigger_rules=False,
                        doc_md="With gate.require_approval: the approver's view of a passed decision; "
                               "otherwise empty, and the approval step is skipped")
    def approval_needed(decision: dict) -> str:
        return lifecycle.approval_request(Context.from_environment(), decision)

    approve = HITLOperator(
        task_id="approve", options=[lifecycle.APPROVE, lifecycle.REJECT], defaults=[lifecycle.REJECT],
        subject="Promote model version {{ ti.xcom_pull(task_ids='evaluate')['version'] }} to champion?",
        body="{{ ti.xcom_pull(task_ids='approval_needed') }}", response_timeout=lifecycle.approval_timeout(),
        params={"comment": Param("", type="string", description="why (kept in the registry audit)")},
        doc_md="A human approves or rejects the promotion (Airflow's Required Actions); no answer rejects")

    @task(multiple_outputs=False, task_id="promote", doc_md=STAGES["promote"], pool=schedule.REGISTRY_POOL,
          trigger_rule="none_failed")
    def promote(decision: dict, dag_run=None, ti=None) -> dict:
        approval = lifecycle.approval_verdict(ti.xcom_pull(task_ids="approve"))
        return lifecycle.promote_model(Context.from_environment(), decision,
                                       actor=f"airflow:{dag_run.dag_id}/{dag_run.run_id}", approval=approval)

    @task(multiple_outputs=False, task_id="notify",
          doc_md="Email the decision: promoted, or refused with the gate's reason.")
    def notify(decision: dict, promotion: dict) -> dict:
        return lifecycle.notify_decision(Context.from_environment(), decision, promotion)

    decision = evaluate(train())
    promoted = promote(decision)
    approval_needed(decision) >> approve >> promoted
    notify(decision, promoted)


retrain()
