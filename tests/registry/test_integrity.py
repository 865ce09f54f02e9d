"""Every load of a registered version checks its files against the hashes recorded at train time.

Before: score, evaluate and monitor handed the registry's model file straight to LightGBM (a torn file
aborted the process with SIGABRT), and the vocabularies and the drift reference were not hashed at all.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.datasets import close_time
from pipelines.modeling import evaluate, score, train
from pipelines.monitoring.inputs import RegistryReference
from pipelines.registry import integrity, promote, tracking
from pipelines.serving import champion
from tests.small_training import day, promote_passed, small_training, synthetic_store

pytestmark = pytest.mark.integration

SMALL = small_training(3, 2, 20)


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """One trained version, champion from day 2's close, with a second one to promote over it."""
    with synthetic_store(tmp_path_factory, "integrity", SMALL, 4, 300) as (params, layout, as_of):
        v1 = train.run(params, layout, as_of, {"kind": "bootstrap"})["version"]
        v2 = train.run(params, layout, as_of, {"kind": "manual", "reason": "test"})["version"]
        assert promote_passed(params, layout, v1, None, close_time(params, day(2)))["moved"]
        yield params, layout, v1, v2, as_of


def files_of(layout, version: str) -> dict[str, Path]:
    run_id = tracking.version_info(layout, version)["run_id"]
    return {"model": tracking.model_file(layout, version),
            "vocabularies": tracking.run_artifact(layout, run_id, tracking.VOCAB_ARTIFACT),
            "reference": tracking.run_artifact(layout, run_id, tracking.REFERENCE_ARTIFACT)}


@contextmanager
def damaged(path: Path, change: Callable[[bytes], bytes]) -> Iterator[None]:
    original = path.read_bytes()
    path.write_bytes(change(original))
    try:
        yield
    finally:
        path.write_bytes(original)


def torn(data: bytes) -> bytes:
    return data[: len(data) // 2]   # a copy killed half way


def test_train_tags_the_hash_of_every_file_a_load_reads(registered):
    _, layout, v1, _, _ = registered
    tags = tracking.version_info(layout, v1)["tags"]
    assert {tag: len(tags.get(tag, "")) for tag in integrity.TAGS.values()} == {
        tag: 64 for tag in integrity.TAGS.values()}
    for name, path in files_of(layout, v1).items():
        tag = integrity.TAGS[{"vocabularies": tracking.VOCAB_ARTIFACT,
                              "reference": tracking.REFERENCE_ARTIFACT}.get(name, integrity.MODEL)]
        assert integrity.file_sha256(path) == tags[tag], name


@pytest.mark.parametrize("which", ["model", "vocabularies"])
def test_a_damaged_model_file_is_refused_by_every_loader_naming_version_and_file(registered, which):
    params, layout, v1, v2, as_of = registered
    path = files_of(layout, v1)[which]
    named = re.compile(rf"model version {v1}: {re.escape(str(path))} has SHA-256")
    loaders = {"score": lambda: score.run(params, layout, day(3)),
               "evaluate": lambda: evaluate.run(params, layout, v2, as_of, dry_run=True),
               "serve": lambda: champion.load(layout, v1),
               "promote": lambda: promote.verify_artifact(layout, v1)}
    with damaged(path, torn):
        for load in loaders.values():
            with pytest.raises(integrity.IntegrityError, match=named):
                load()
    assert score.run(params, layout, day(3))["model_version"] == v1, "the restored file loads again"


def test_a_changed_drift_reference_is_refused_by_the_monitor(registered):
    params, layout, v1, _, _ = registered
    path = files_of(layout, v1)["reference"]
    with damaged(path, lambda data: data[:-64] + bytes(64)), pytest.raises(
            integrity.IntegrityError, match=rf"model version {v1}: {re.escape(str(path))} has SHA-256"):
        RegistryReference(params, layout).frame(v1)
    assert len(RegistryReference(params, layout).frame(v1)) > 0


def test_a_torn_model_file_ends_the_score_command_with_a_message_not_an_abort(registered):
    params, layout, v1, _, _ = registered
    path = files_of(layout, v1)["model"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with damaged(path, torn):
        done = subprocess.run([sys.executable, "-m", "pipelines", "score", "--date", day(3).isoformat(),
                               "--home", str(layout.root)], cwd=PROJECT_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"model version {v1}: {path} has SHA-256" in done.stderr


def test_a_version_registered_without_hash_tags_is_refused(registered):
    _, layout, v1, _, _ = registered
    tags = tracking.version_info(layout, v1)["tags"]
    tracking.client(layout).delete_model_version_tag(tracking.MODEL_NAME, v1, "vocab_sha256")
    try:
        with pytest.raises(integrity.IntegrityError, match="no vocab_sha256 tag"):
            integrity.load_version(layout, v1)
    finally:
        tracking.set_version_tags(layout, v1, {"vocab_sha256": tags["vocab_sha256"]})
