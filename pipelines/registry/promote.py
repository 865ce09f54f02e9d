"""Stage `promote`: move the champion alias after a passed gate, serialized, verified and recorded.

MLflow alias moves are last-writer-wins upserts, so every move is a registry transaction (`ledger`):
under a lock every host sees, it re-checks that the champion is still the version the evaluation
compared against, records the move and sets the alias, and the commit makes it count.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.registry import history, integrity, tracking
from pipelines.registry.ledger import default_actor, move_alias, registry_transaction
from pipelines.storage import Layout, read_json
from pipelines.timeutil import UTC, parse_instant


def verify_artifact(layout: Layout, version: str) -> str:
    """Check the version's model, vocabularies and reference against the hashes tagged at training
    (`registry.integrity`); refuse the move when one differs. Returns the model's SHA-256."""
    try:
        integrity.reference_file(layout, version)
        return integrity.model_files(layout, version)[2]
    except integrity.IntegrityError as exc:
        raise integrity.IntegrityError(f"refused: {exc}: the artifact was modified; retrain or "
                                       f"restore it") from None


def _refuse(conn: sa.Connection, decision: dict, why: str, who: str, when: str) -> dict:
    history.insert(conn, {"action": "refused", "alias": tracking.CHAMPION, "why": why, "who": who,
                          "when": when, "from": decision.get("champion_version"),
                          "to": decision.get("version")})
    return {"moved": False, "version": decision.get("version"), "reason": why}


def run(params: Params, layout: Layout, decision: dict, now: dt.datetime | None = None,
        actor: str | None = None, approval: dict | None = None) -> dict:
    """Promote decision['version'] to champion if it passed, was approved when gate.require_approval
    asks for it ({approved, by, at, comment} from the approval step), and the champion did not change
    meanwhile."""
    version, expected = str(decision["version"]), decision.get("champion_version")
    when = (now or parse_instant(decision["as_of"])).isoformat()  # default keeps DAG runs replayable
    who = actor or default_actor()
    if decision.get("dry_run"):
        return {"moved": False, "version": version, "reason": "dry-run decision: never promotes"}
    with registry_transaction(layout, who) as conn:
        if not decision.get("passed"):
            why = f"gate failed: {decision.get('reason', 'no reason recorded')}"
            return _refuse(conn, decision, why, who, when)
        if approval is not None and not approval.get("approved"):
            why = f"rejected by {approval.get('by')}: {approval.get('comment') or 'no comment'}"
            return _refuse(conn, decision, why, f"{who}; approver {approval.get('by')}", when)
        if approval is None and params.gate.require_approval:
            return _refuse(conn, decision, "gate.require_approval is on and no approval was recorded: "
                                           "promote through the retrain DAG's approval step", who, when)
        current = tracking.get_alias(layout, tracking.CHAMPION)
        if current != (str(expected) if expected is not None else None):
            return _refuse(conn, decision, f"stale decision: champion is {current}, the gate compared "
                                           f"against {expected}; re-run evaluate", who, when)
        if current == version:
            return {"moved": False, "version": version, "reason": f"version {version} is already champion"}
        verify_artifact(layout, version)
        why = f"gate passed: {decision.get('reason', '')}"
        if approval is not None:
            comment = f": {approval['comment']}" if approval.get("comment") else ""
            why = f"{why}; approved by {approval.get('by')}{comment}"
            who = f"{who}; approver {approval.get('by')}"
        if current is not None:
            move_alias(conn, layout, tracking.PREVIOUS, current, why=f"replaced by {version}", who=who,
                       when=when)
        move_alias(conn, layout, tracking.CHAMPION, version, why=why, who=who, when=when)
    return {"moved": True, "champion": version, "previous": current}


def rollback(layout: Layout, reason: str, now: dt.datetime, actor: str | None = None) -> dict:
    """Swap champion and previous (so a rollback can itself be undone), recorded like a promotion."""
    who, when = actor or default_actor(), now.isoformat()
    with registry_transaction(layout, who) as conn:
        previous = tracking.get_alias(layout, tracking.PREVIOUS)
        current = tracking.get_alias(layout, tracking.CHAMPION)
        if previous is None:
            raise StageError("no `previous` alias to roll back to: see `railcast models`")
        verify_artifact(layout, previous)
        move_alias(conn, layout, tracking.CHAMPION, previous, why=f"rollback: {reason}", who=who, when=when)
        move_alias(conn, layout, tracking.PREVIOUS, current, why=f"rolled back: {reason}", who=who, when=when)
    return {"moved": True, "champion": previous, "previous": current}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast promote`."""
    parser.add_argument("--decision", required=True, help="decision record JSON from `railcast evaluate`")


def main(args: argparse.Namespace, params: Params) -> dict:
    """CLI front-end: the audit time of a manual promotion is the wall clock; the person running it is
    the approver when gate.require_approval is on."""
    approval = {"approved": True, "by": default_actor(), "comment": "railcast promote"} \
        if params.gate.require_approval else None
    return run(params, Layout(params, args.home), read_json(Path(args.decision)), now=dt.datetime.now(UTC),
               approval=approval)
