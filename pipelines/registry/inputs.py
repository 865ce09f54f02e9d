"""Every registered version's training inputs, content-addressed by DVC in a remote.

`RAILCAST_HOME/lineage` is a DVC repository without git (`dvc init --no-scm`). Its remote is
`RAILCAST_DVC_REMOTE` (e.g. `s3://railcast/dvc`; an S3-compatible store's address and keys come from
the standard AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), else the local directory
`RAILCAST_HOME/dvc-remote`. When a version is registered, the features and labels partitions of its
window are copied to `inputs/v<N>/`, `dvc add`ed (identical partitions are stored once, by content) and
pushed; the version's tag `inputs_dvc` records the directory's DVC hash. `restore` brings exactly that
directory back from the remote by its hash, whatever became of the data store's files since.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipelines.config import Params
from pipelines.datasets import FEATURES_GATE, quarantine_file, verdict_file
from pipelines.errors import StageError
from pipelines.registry import tracking
from pipelines.storage import DataPath, Layout

REMOTE_ENV = "RAILCAST_DVC_REMOTE"
INPUTS_TAG, REMOTE_TAG = "inputs_dvc", "inputs_remote"


def remote_url(layout: Layout) -> str:
    """Where the inputs are pushed: $RAILCAST_DVC_REMOTE, else the data root's dvc-remote/ directory."""
    return os.environ.get(REMOTE_ENV) or str(layout.dvc_remote)


def _dvc(repo: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise StageError(f"dvc {' '.join(args)} failed in {repo}: {done.stderr.strip()[-800:]}")
    return done.stdout


def repository(layout: Layout) -> Path:
    """The lineage DVC repository (created on first use), its remote set to `remote_url`."""
    repo = layout.root / "lineage"
    if not (repo / ".dvc").is_dir():
        repo.mkdir(parents=True, exist_ok=True)
        _dvc(repo, "init", "--no-scm", "-q")
    config = ["[core]", "    no_scm = True", "    remote = store", "['remote \"store\"']",
              f"    url = {remote_url(layout)}"]
    (repo / ".dvc" / "config").write_text("\n".join(config) + "\n")
    return repo


def record(params: Params, layout: Layout, version: str, days: list) -> str:
    """Version the features and labels of `days`, with the features gate's verdicts and quarantine
    (which rows training used), for registered `version`; returns the DVC hash."""
    tags = tracking.version_info(layout, version)["tags"]
    if INPUTS_TAG in tags:
        return tags[INPUTS_TAG]  # a retried train: recorded by the earlier try
    repo = repository(layout)
    folder = repo / "inputs" / f"v{version}"
    shutil.rmtree(folder, ignore_errors=True)
    for source, relative in _inputs(params, layout, days):
        if source.exists():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())  # the source may be an object in the store
    _dvc(repo, "add", "-q", f"inputs/v{version}")
    digest = yaml.safe_load((repo / "inputs" / f"v{version}.dvc").read_text())["outs"][0]["md5"]
    _dvc(repo, "push", "-q", f"inputs/v{version}.dvc")
    shutil.rmtree(folder)  # the DVC cache and the remote hold it
    tracking.set_version_tags(layout, version, {INPUTS_TAG: digest, REMOTE_TAG: remote_url(layout)})
    return digest


def _inputs(params: Params, layout: Layout, days: list) -> list[tuple[DataPath, Path]]:
    """(file, path under a data root) of every input of training on `days`."""
    out = [(layout.day_file(name, day), Path(getattr(params.paths, name)) / f"{day:%Y-%m-%d}.parquet")
           for name in ("features", "labels") for day in days]
    for day in days:
        out.append((verdict_file(layout, FEATURES_GATE, day),
                    Path(params.paths.ledger) / FEATURES_GATE / f"{day:%Y-%m-%d}.json"))
        out.append((quarantine_file(layout, FEATURES_GATE, day),
                    Path(params.paths.quarantine) / FEATURES_GATE / f"{day:%Y-%m-%d}.parquet"))
    return out


def restore(layout: Layout, version: str, digest: str) -> Path:
    """Pull the inputs directory with DVC hash `digest` from the remote; returns a data root holding it."""
    repo = repository(layout)
    name = f"restored-v{version}"
    shutil.rmtree(repo / "inputs" / name, ignore_errors=True)
    (repo / "inputs").mkdir(exist_ok=True)
    (repo / "inputs" / f"{name}.dvc").write_text(yaml.safe_dump(
        {"outs": [{"md5": digest, "hash": "md5", "path": name}]}, sort_keys=False))
    _dvc(repo, "pull", "-q", f"inputs/{name}.dvc")
    return repo / "inputs" / name
