"""The stage registry: canonical names mapped to modules, imported lazily.

Stage name = module name = dvc.yaml stage = Airflow task id = CLI command; the module lives in the
package of its stage family (`STAGE_MODULES`).
Other commands (`railcast models`, `loop`, `demo`, ...) are registered in `pipelines.cli`.
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

# Where each stage's module lives: the package of its family, the module named as the stage.
STAGE_MODULES: dict[str, str] = {
    "simulate": "pipelines.sources.simulate",
    "ingest": "pipelines.sources.ingest",
    "validate_snapshots": "pipelines.validation.validate_snapshots",
    "detect_departures": "pipelines.detection.detect_departures",
    "build_features": "pipelines.features.build_features",
    "validate_features": "pipelines.validation.validate_features",
    "train": "pipelines.modeling.train",
    "evaluate": "pipelines.modeling.evaluate",
    "promote": "pipelines.registry.promote",
    "score": "pipelines.modeling.score",
    "monitor": "pipelines.monitoring.monitor",
}


def stage_module(name: str) -> ModuleType:
    """Import the module implementing stage `name`."""
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    return importlib.import_module(STAGE_MODULES[name])
