"""Training inputs versioned by DVC in a remote on the S3 store: delete a version's partitions from the
data store, and `railcast reproduce` brings them back from the remote and rebuilds the same bytes."""

from __future__ import annotations

import shutil

import pytest
from pyarrow import fs

from pipelines.cli import main as cli_main
from pipelines.modeling import train
from pipelines.registry import inputs, reproduce, tracking
from tests.services import new_bucket
from tests.small_training import small_training, synthetic_store

pytestmark = pytest.mark.integration

SMALL = small_training(4, 3, 40, **{"lineage.version_inputs": True})


def test_deleted_inputs_come_back_from_the_dvc_remote(s3_store, tmp_path_factory, monkeypatch):
    bucket = new_bucket(s3_store)
    for name, value in s3_store.client_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(inputs.REMOTE_ENV, f"s3://{bucket}/dvc")
    with synthetic_store(tmp_path_factory, "inputs", SMALL, 5, 800) as (params, layout, as_of):
        trained = train.run(params, layout, as_of, {"kind": "drift", "evidence": {"event_start": None}})
        tags = tracking.version_info(layout, trained["version"])["tags"]
        assert tags[inputs.INPUTS_TAG] == trained["inputs_dvc"] and tags[inputs.INPUTS_TAG].endswith(".dir")
        assert tags[inputs.REMOTE_TAG] == f"s3://{bucket}/dvc"
        pushed = s3_store.filesystem().get_file_info(fs.FileSelector(f"{bucket}/dvc", recursive=True))
        assert sum(o.type == fs.FileType.File for o in pushed) > 5

        assert reproduce.run(params, layout, trained["version"])["inputs_from"] == "data store"
        for name in ("features", "labels"):  # the data store loses them, and so does the local DVC cache
            shutil.rmtree(layout.dataset(name))
        shutil.rmtree(layout.root / "lineage" / ".dvc" / "cache")
        rebuilt = reproduce.run(params, layout, trained["version"])
        assert rebuilt["reproduced"] and rebuilt["actual_sha256"] == trained["model_sha256"]
        assert rebuilt["inputs_from"] == f"DVC remote s3://{bucket}/dvc"
        assert cli_main(["reproduce", trained["version"], "--home", str(layout.root)]) == 0
