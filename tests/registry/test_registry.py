"""Registry on a real SQLite MLflow store: gate + promote, refusals, rollback, races, tampering, CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.cli import main as cli_main
from pipelines.config import load_params
from pipelines.errors import StageError
from pipelines.modeling import evaluate, train
from pipelines.registry import history, integrity, promote, tracking
from pipelines.state.db import engine_for
from pipelines.state.tables import alias_moves
from tests.small_training import small_training, synthetic_store

pytestmark = pytest.mark.integration

# One LightGBM thread: OpenMP spin-waits badly on a shared, oversubscribed machine.
# The synthetic board forecast is near-perfect (the label plus 3 min of noise on 70% of rows), unlike a
# real board: the board check would refuse these small models. It has its own tests (test_gate.py).
SMALL = small_training(4, 3, 80, **{"gate.bootstrap_samples": 300, "gate.min_gain_over_board": -1.0})
WHEN = dt.datetime(2025, 9, 7, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """One store with three versions: 1 weak (few trees), 2 full, 3 identical retrain of 2."""
    with synthetic_store(tmp_path_factory, "registry", SMALL, 5, 1200) as (params, layout, as_of):
        weak = load_params(overrides={**SMALL, "train.num_boost_round": 12})
        train.run(weak, layout, as_of, {"kind": "bootstrap"})
        train.run(params, layout, as_of, {"kind": "drift", "evidence": {"drifted": ["delay_at_pred"]}})
        train.run(params, layout, as_of, {"kind": "manual", "reason": "same data again"})
        yield params, layout, as_of


@pytest.fixture()
def clean(registry):
    """Each test starts with no aliases and an empty audit log."""
    params, layout, as_of = registry
    for alias in (tracking.CHAMPION, tracking.CHALLENGER, tracking.PREVIOUS):
        tracking.set_alias(layout, alias, None)
    with engine_for(layout).begin() as conn:
        conn.execute(alias_moves.delete())
    return registry


def decision(version: str, champion: str | None, passed: bool = True) -> dict:
    return {"version": version, "champion_version": champion, "passed": passed, "reason": "test",
            "as_of": WHEN.isoformat(), "dry_run": False}


def test_gate_promotes_a_better_model_and_refuses_an_equal_one(clean):
    params, layout, as_of = clean
    first = evaluate.run(params, layout, "1", as_of)
    assert first["passed"] and first["champion_version"] is None
    assert [c["name"] for c in first["checks"]] == ["persistence_gain", "board_gain"], "no champion yet"
    assert promote.run(params, layout, first)["moved"]
    second = evaluate.run(params, layout, "2", as_of)
    assert second["passed"], second["reason"]
    assert second["bootstrap_upper"] < 0 and second["gain_over_board_forecast"] is not None
    assert promote.run(params, layout, second) == {"moved": True, "champion": "2", "previous": "1"}
    assert tracking.aliases(layout) == {"champion": "2", "previous": "1", "challenger": "2"}
    third = evaluate.run(params, layout, "3", as_of)  # identical model: no gain, interval not below 0
    assert not third["passed"] and "relative gain" in third["reason"]
    assert promote.run(params, layout, third)["moved"] is False
    assert tracking.get_alias(layout, tracking.CHAMPION) == "2"
    tags = tracking.version_info(layout, "3")["tags"]
    assert tags["gate_passed"] == "false" and json.loads(tags["gate_record"])["version"] == "3"
    actions = [(e["action"], e["alias"], e["to"]) for e in history.read_audit(layout)]
    assert ("move", "champion", "2") in actions and ("refused", "champion", "3") in actions
    assert history.first_champion(layout) == "1"
    again = promote.run(params, layout, {**second, "champion_version": "2"})
    assert again["moved"] is False and "already champion" in again["reason"]
    reference = pd.read_parquet(integrity.reference_file(layout, "2"))
    assert len(reference) == second["rows"] and s.PREDICTION in reference.columns


def test_dry_run_moves_nothing(clean):
    params, layout, as_of = clean
    record = evaluate.run(params, layout, "2", as_of, dry_run=True)
    assert record["dry_run"] and tracking.aliases(layout) == {}
    assert promote.run(params, layout, record)["moved"] is False
    assert history.read_audit(layout) == []


def test_under_required_approval_only_an_approved_decision_promotes(clean):
    """gate.require_approval: a passed decision without an answer or rejected is refused (the audit
    names the approver and the comment); an approved one moves the alias. The approver's view lists
    every check of the record, board strings escaped for Markdown."""
    import dataclasses

    from pipelines.runtime import lifecycle
    from pipelines.runtime.context import Context

    params, layout, as_of = clean
    strict = dataclasses.replace(params, gate=dataclasses.replace(params.gate, require_approval=True))
    unanswered = promote.run(strict, layout, decision("2", None))
    assert unanswered["moved"] is False and "no approval was recorded" in unanswered["reason"]
    no = {"chosen_options": ["Reject"], "params_input": {"comment": "not today"},
          "responded_by_user": {"id": "7", "name": "ana"}, "responded_at": "2025-09-07T13:00:00+00:00"}
    rejected = promote.run(strict, layout, decision("2", None), approval=lifecycle.approval_verdict(no))
    assert rejected == {"moved": False, "version": "2", "reason": "rejected by ana: not today"}
    yes = {**no, "chosen_options": ["Approve"], "params_input": {"comment": ""}}
    assert promote.run(strict, layout, decision("2", None), approval=lifecycle.approval_verdict(yes))["moved"]
    audit = history.read_audit(layout)
    assert [(e["action"], e["to"]) for e in audit] == [("refused", "2"), ("refused", "2"), ("move", "2")]
    assert audit[1]["who"].endswith("approver ana") and audit[2]["why"].endswith("; approved by ana")

    record = evaluate.run(params, layout, "3", as_of, dry_run=True)
    record["checks"][0]["reason"] += " | line <b>S 4</b>"
    (layout.root / "record.json").write_text(json.dumps(record))
    summary = {"version": record["version"], "record_file": str(layout.root / "record.json")}
    view = lifecycle.approval_request(Context(strict, layout), {**summary, "passed": True})
    assert all(f"| {c['name']} |" in view for c in record["checks"]) and "record.json" in view
    assert "<b>" not in view and "&lt;b&gt;S 4&lt;/b&gt;" in view and "\\| line" in view
    for off in ({**summary, "passed": False}, {**summary, "passed": True, "dry_run": True}):
        assert lifecycle.approval_request(Context(strict, layout), off) == "", "nothing to approve"
    assert lifecycle.approval_request(Context(params, layout), {**summary, "passed": True}) == ""


def test_rollback_restores_previous_and_is_audited(clean):
    params, layout, _ = clean
    promote.run(params, layout, decision("1", None))
    promote.run(params, layout, decision("2", "1"))
    assert cli_main(["rollback", "--reason", "bad predictions on line RE 7", "--home", str(layout.root)]) == 0
    assert tracking.aliases(layout) == {"champion": "1", "previous": "2"}
    last = history.read_audit(layout)[-2]
    assert last["alias"] == "champion" and last["from"] == "2" and last["to"] == "1"
    assert "RE 7" in last["why"] and last["who"]
    tags = tracking.version_info(layout, "1")["tags"]
    assert any("rollback" in v for k, v in tags.items() if k.startswith("alias_move_"))


def test_rollback_without_previous_is_refused(clean):
    params, layout, _ = clean
    with pytest.raises(StageError, match="previous"):
        promote.rollback(layout, "nothing to go back to", WHEN)


def test_stale_decision_is_refused(clean):
    params, layout, _ = clean
    promote.run(params, layout, decision("1", None))
    result = promote.run(params, layout, decision("2", None))  # evaluated before 1 became champion
    assert result["moved"] is False and "stale" in result["reason"]
    assert tracking.get_alias(layout, tracking.CHAMPION) == "1"


def test_racing_promotions_have_one_winner(clean):
    params, layout, _ = clean
    barrier, results = threading.Barrier(2), {}

    def attempt(version: str) -> None:
        barrier.wait()
        results[version] = promote.run(params, layout, decision(version, None))

    threads = [threading.Thread(target=attempt, args=(v,)) for v in ("2", "3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [v for v, r in results.items() if r["moved"]]
    assert len(results) == 2 and len(winners) == 1
    assert tracking.get_alias(layout, tracking.CHAMPION) == winners[0]
    moves = [e for e in history.read_audit(layout) if e["action"] == "move"]
    assert [e["to"] for e in moves] == winners


def test_tampered_artifact_is_refused(clean):
    params, layout, _ = clean
    path = tracking.model_file(layout, "2")
    original = path.read_bytes()
    path.write_bytes(original.replace(b"shrinkage=", b"shrinkage=0", 1))
    try:
        with pytest.raises(StageError, match="artifact was modified"):
            promote.run(params, layout, decision("2", None))
        assert tracking.get_alias(layout, tracking.CHAMPION) is None
    finally:
        path.write_bytes(original)
    assert promote.run(params, layout, decision("2", None))["moved"]


def test_models_cli_lists_versions_aliases_and_history(clean, capsys):
    params, layout, _ = clean
    promote.run(params, layout, decision("1", None))
    assert cli_main(["models", "--home", str(layout.root)]) == 0
    out = capsys.readouterr().out
    assert "champion" in out and "bootstrap" in out and "history" in out and "-> 1" in out
    assert cli_main(["models", "--json", "--home", str(layout.root)]) == 0
    state = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in state["versions"]] == ["1", "2", "3"]
    assert state["aliases"] == {"champion": "1"} and state["history"][0]["to"] == "1"


def test_a_retried_evaluate_records_nothing_twice(clean):
    params, layout, as_of = clean
    first = evaluate.run(params, layout, "2", as_of)
    again = evaluate.run(params, layout, "2", as_of)  # the task's retry after a failure further on
    assert again == first
    moves = [e for e in history.read_audit(layout) if e["alias"] == tracking.CHALLENGER]
    assert [(e["action"], e["to"]) for e in moves] == [("move", "2")], "one challenger move"
    run_id = tracking.version_info(layout, "2")["run_id"]
    points = tracking.client(layout).get_metric_history(run_id, "gate_passed")
    assert len(points) == 1 and points[0].timestamp == int(as_of.timestamp() * 1000)
