"""The one MLflow adapter: tracking store, experiment, run logging, registry versions, tags and aliases."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipelines.storage import DataPath, Layout, local_file

MODEL_NAME = "railcast-arrival-delay"
EXPERIMENT = "railcast"
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
SHA_TAG = "model_sha256"
MODEL_ARTIFACT = "model.lgb"   # the file name mlflow.lightgbm gives a Booster's native text
VOCAB_ARTIFACT = "model_files/vocabularies.json"
REFERENCE_ARTIFACT = "reference/holdout.parquet"
PARAMS_ARTIFACT = "lineage/params.json"
PIP_REQUIREMENTS = ["lightgbm==4.7.0", "pandas<3", "numpy<3"]  # explicit: skips slow inference
# Calls to a tracking server retry 4 times (1, 2, 4, 8 s + jitter; 60 s per try at most): an outage fails
# the task soon and its retry starts clean (MLflow's defaults can hold a task for many minutes). Yours win.
SERVER_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                  "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}


def _folder(artifact_path: str) -> str | None:
    return None if (parent := str(Path(artifact_path).parent)) == "." else parent


def tracking_uri(layout: Layout) -> str:
    """$MLFLOW_TRACKING_URI, else the SQLite store under the data root's mlflow/ directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{layout.mlflow_dir / 'mlflow.db'}"


def _point_mlflow_at(uri: str) -> None:
    """mlflow.set_tracking_uri / set_registry_uri without the env variables they also set: else a second
    data root in this process (a test, a benchmark) would silently log to the first one's store."""
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for name, value in saved.items():
        os.environ.pop(name, None) if value is None else os.environ.update({name: value})


def connect(layout: Layout) -> str:
    """Point MLflow at the layout's store; return the experiment id (created with explicit artifacts)."""
    uri = tracking_uri(layout)
    served = urlparse(uri).scheme in ("http", "https")
    if "MLFLOW_TRACKING_URI" not in os.environ:  # the embedded store lives in the data root
        layout.mlflow_dir.mkdir(parents=True, exist_ok=True)
    if served:
        for name, value in SERVER_RETRIES.items():
            os.environ.setdefault(name, value)  # MLflow reads them per call
    _point_mlflow_at(uri)
    found = mlflow.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    # a server picks its artifact store (S3 behind --serve-artifacts); a local store keeps them beside it
    location = None if served else (layout.mlflow_dir / "artifacts").resolve().as_uri()
    try:
        return mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    except MlflowException:  # another process created it between our lookup and create
        return mlflow.get_experiment_by_name(EXPERIMENT).experiment_id


def client(layout: Layout) -> MlflowClient:
    """A client bound to the layout's tracking and registry store."""
    connect(layout)
    return MlflowClient(tracking_uri(layout), registry_uri=tracking_uri(layout))


def log_training(layout: Layout, *, run_name: str, params: dict[str, Any], metrics: dict[str, float],
                 tags: dict[str, str], artifacts: dict[str, Path], booster: Any, example: Any) -> dict:
    """One training run: params, metrics, tags, artifacts and the registered native-text model.

    The run's tags go on the model version too, in the call that creates it (one store transaction,
    not one per tag).
    """
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    experiment_id = connect(layout)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
        mlflow.set_tags(tags)
        for artifact_path, local in sorted(artifacts.items()):
            mlflow.log_artifact(str(local), artifact_path=_folder(artifact_path))
        with warnings.catch_warnings():
            # MLflow hints that integer columns cannot hold missing values: ours are category codes,
            # never missing (a null or unseen value has its own code), so the hint is only noise in logs.
            warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
            signature = infer_signature(example, booster.predict(example))
        info = mlflow.lightgbm.log_model(booster, name="model", signature=signature, input_example=example,
                                         pip_requirements=PIP_REQUIREMENTS)
        # Logged after the model, with its id: one batch for run and model (logged before, MLflow would
        # re-read each metric's history to link it to the model, ~0.4 s for our 120 metrics).
        mlflow.log_metrics(metrics, model_id=info.model_id)
        version = mlflow.register_model(info.model_uri, MODEL_NAME, tags=tags).version
    return {"run_id": run.info.run_id, "version": str(version)}


def model_file(layout: Layout, version: str) -> Path:
    """Local path of a registered version's model file in the artifact store."""
    uri = client(layout).get_model_version_download_uri(MODEL_NAME, str(version))
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{MODEL_NAME}/{version}")
        return Path(local) / MODEL_ARTIFACT
    return Path(unquote(parsed.path)) / MODEL_ARTIFACT


def run_artifact(layout: Layout, run_id: str, path: str) -> Path:
    """Local copy (or in-place path) of one artifact of a run."""
    root = client(layout).get_run(run_id).info.artifact_uri
    parsed = urlparse(root)
    if parsed.scheme in ("", "file"):  # local store: read in place, no copy
        return Path(unquote(parsed.path)) / path
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path))


def version_info(layout: Layout, version: str) -> dict:
    """Run id, tags and creation time of a registered version."""
    mv = client(layout).get_model_version(MODEL_NAME, str(version))
    return {"version": str(mv.version), "run_id": mv.run_id, "tags": dict(mv.tags),
            "created_ms": mv.creation_timestamp}


def list_versions(layout: Layout) -> list[dict]:
    """Every registered version, oldest first."""
    found = client(layout).search_model_versions(f"name='{MODEL_NAME}'")
    return sorted((version_info(layout, mv.version) for mv in found), key=lambda v: int(v["version"]))


def set_version_tags(layout: Layout, version: str, tags: dict[str, str]) -> None:
    """Tag a registered version (values stringified)."""
    mlc = client(layout)
    for key, value in sorted(tags.items()):
        mlc.set_model_version_tag(MODEL_NAME, str(version), key, str(value))


def aliases(layout: Layout) -> dict[str, str]:
    """alias -> version of the registered model ({} before the first version)."""
    try:
        return {k: str(v) for k, v in client(layout).get_registered_model(MODEL_NAME).aliases.items()}
    except MlflowException:
        return {}


def get_alias(layout: Layout, alias: str) -> str | None:
    """The version an alias points at, or None."""
    return aliases(layout).get(alias)


def set_alias(layout: Layout, alias: str, version: str | None) -> None:
    """Point alias at version (None deletes it). A plain upsert: callers serialize moves."""
    mlc = client(layout)
    if version is None:
        if alias in aliases(layout):
            mlc.delete_registered_model_alias(MODEL_NAME, alias)
        return
    mlc.set_registered_model_alias(MODEL_NAME, alias, str(version))


def log_to_run(layout: Layout, run_id: str, *, metrics: dict[str, float], files: dict[str, DataPath],
               at: Any) -> None:
    """Add metrics stamped `at` the event (a retry's points are the same: kept once) and files to a run."""
    mlc = client(layout)
    for key, value in sorted(metrics.items()):
        mlc.log_metric(run_id, key, value, timestamp=int(at.timestamp() * 1000), step=0)
    with tempfile.TemporaryDirectory(prefix="railcast-artifact-") as tmp:
        for artifact_path, source in sorted(files.items()):
            mlc.log_artifact(run_id, str(local_file(source, Path(tmp))), artifact_path=_folder(artifact_path))


def run_info(layout: Layout, run_id: str) -> dict:
    """Params and tags of a run."""
    run = client(layout).get_run(run_id)
    return {"params": dict(run.data.params), "tags": dict(run.data.tags), "metrics": dict(run.data.metrics)}
