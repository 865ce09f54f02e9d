"""`railcast reproduce VERSION`: rebuild a registered model from its lineage and compare the file hash.

The inputs are the data store's features and labels while they still hash to the version's logged
`data_version`; when they are gone or changed, the exact partitions come back from the DVC remote by
the hash the version recorded (`registry.inputs`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml

from pipelines.config import Params, load_params
from pipelines.errors import StageError
from pipelines.modeling import train_data as td
from pipelines.modeling.model import file_sha256
from pipelines.registry import tracking
from pipelines.storage import Layout, read_json
from pipelines.timeutil import parse_instant


def logged_params(layout: Layout, run_id: str) -> Params:
    """The full parameter set the run logged (lineage/params.json), parsed by the strict loader."""
    snapshot = read_json(tracking.run_artifact(layout, run_id, tracking.PARAMS_ARTIFACT))
    with tempfile.TemporaryDirectory(prefix="railcast-params-") as tmp:
        path = Path(tmp) / "params.yaml"
        path.write_text(yaml.safe_dump(snapshot, sort_keys=True))
        return load_params(path)


def logged_trigger(tags: dict) -> dict:
    """The trigger as the version's tags recorded it (evidence {} when it was cut at the tag limit)."""
    try:
        evidence = json.loads(tags.get("trigger_evidence") or "{}")
    except json.JSONDecodeError:
        evidence = {}
    return {"kind": tags.get("trigger"), "reason": tags.get("trigger_reason", ""), "evidence": evidence}


def _inputs(snapshot: Params, layout: Layout, tags: dict, version: str, as_of, holdout_from) -> tuple:
    """(data root, where it came from): the data store when it still holds the logged inputs, else
    the DVC remote."""
    from pipelines.registry import inputs

    try:
        train_days, holdout_days = td.split_days(snapshot, layout, as_of, holdout_from)
        if td.data_version(layout, train_days + holdout_days) == tags.get("data_version"):
            return layout, "data store"
    except (StageError, ValueError, OSError):
        pass  # partitions gone: the window cannot even be chosen
    if inputs.INPUTS_TAG not in tags:
        return layout, "data store (changed; no DVC copy recorded)"
    root = inputs.restore(layout, version, tags[inputs.INPUTS_TAG])
    return Layout(snapshot, root), f"DVC remote {tags.get(inputs.REMOTE_TAG)}"


def run(params: Params, layout: Layout, version: str) -> dict:
    """Retrain `version` from its as_of, params and partitions; StageError if the model hash differs."""
    from pipelines.modeling import train

    info = tracking.version_info(layout, version)
    tags = info["tags"]
    expected = tags.get(tracking.SHA_TAG)
    if not expected or "as_of" not in tags:
        raise StageError(f"version {version} has no lineage tags ({tracking.SHA_TAG}, as_of): it was not "
                         f"registered by `railcast train`")
    as_of = parse_instant(tags["as_of"])
    snapshot = logged_params(layout, info["run_id"])
    holdout_from = td.event_start(logged_trigger(tags))
    data_layout, source = _inputs(snapshot, layout.with_params(snapshot), tags, version, as_of, holdout_from)
    fitted = train.fit(snapshot, data_layout, as_of, holdout_from)
    days = fitted.train_days + fitted.holdout_days
    data_now = td.data_version(data_layout, days)
    with tempfile.TemporaryDirectory(prefix="railcast-reproduce-") as tmp:
        actual = file_sha256(fitted.model.save(tmp))
    result = {"version": str(version), "as_of": as_of.isoformat(), "expected_sha256": expected,
              "actual_sha256": actual, "data_version_logged": tags.get("data_version"),
              "data_version_now": data_now, "inputs_from": source, "reproduced": actual == expected}
    if actual != expected:
        cause = ("the input partitions changed since training" if data_now != tags.get("data_version")
                 else "same input data: code or library versions differ (logged git commit "
                      f"{tags.get('git_commit', 'unknown')})")
        raise StageError(f"version {version} NOT reproduced: model hash {actual[:12]} != registered "
                         f"{expected[:12]}; {cause}")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast reproduce`."""
    parser.add_argument("version", help="registered version of railcast-arrival-delay")


def main(args: argparse.Namespace, params: Params) -> dict:
    """CLI front-end of `railcast reproduce`."""
    return run(params, Layout(params, args.home), args.version)

