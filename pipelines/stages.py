"""The stage registry: canonical names mapped to modules, imported lazily.

Stage name = module name = dvc.yaml stage = Airflow task id = CLI command.
Every stage module provides `add_arguments(parser)`, `main(args, params) -> dict` (the CLI front-end)
and one `run(...)` transaction that DAGs, DVC and tests call.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Order is the pipeline order.
STAGES: dict[str, str] = {
    "simulate": "Generate snapshots (and ground truth) for a past period with the simulator's bulk path",
    "ingest": "Normalize one interval of raw board polls into snapshots; `ingest poll` runs the poller",
    "validate_snapshots": "Great Expectations gate over a batch of snapshots; quarantines failing rows",
    "detect_departures": "Decide departures per closed service date from snapshot sessions",
    "build_features": "Point-in-time features, late-arriving labels and baselines per service date",
    "validate_features": "Great Expectations gate over a batch of features",
    "train": "Train a LightGBM challenger on a sliding window as of an instant; log it to MLflow",
    "evaluate": "Champion/challenger gate on the latest matured holdout; writes a decision record",
    "promote": "Move the champion alias if the gate passed (serialized, audited)",
    "score": "Score newly decided departures with the champion (and the first champion, in shadow)",
    "monitor": "Evidently drift and performance checks; decides whether to retrain",
}

# Commands that are not pipeline stages.
COMMANDS: dict[str, tuple[str, str]] = {
    "simulator": ("pipelines.simulator.cli", "Simulator utilities: `stations`, `serve`"),
    "models": ("pipelines.registry_cli", "Show registered model versions, aliases and alias history"),
    "rollback": ("pipelines.registry_cli", "Restore the previous champion (audited like a promotion)"),
    "reproduce": ("pipelines.reproduce",
                  "Rebuild a registered model version from its lineage; check its hash"),
    "loop": ("pipelines.loop", "Play the simulated calendar through the stages in-process (no Airflow)"),
    "demo": ("pipelines.demo", "Run the closed loop on the simulator through Airflow (make demo)"),
    "airflow": ("pipelines.airflow_local", "Start Airflow standalone on 127.0.0.1:8080 under RAILCAST_HOME"),
    "mlflow-ui": ("pipelines.tracking", "Open the MLflow UI on 127.0.0.1:5000 for the embedded store"),
}


def stage_module(name: str) -> ModuleType:
    """Import the module implementing stage `name`."""
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    return importlib.import_module(f"pipelines.{name}")


def command_module(name: str) -> ModuleType:
    """Import the module implementing stage or command `name`."""
    if name in STAGES:
        return stage_module(name)
    return importlib.import_module(COMMANDS[name][0])
