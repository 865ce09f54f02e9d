"""Every file of a registered version is checked against the SHA-256 recorded at train time before
anything parses it: the model file, the category vocabularies and the drift reference.

A torn or rewritten model file is not an exception in LightGBM: it can abort the process (SIGABRT), so
scoring, evaluation, monitoring, serving and reproduction would die without a word. Checked first, the
file is refused with an `IntegrityError` (a `StageError`) naming the version and the file. Train records
the hashes as version tags (`hash_tags`); a version registered without them is refused too.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.errors import StageError
from pipelines.modeling.model import DelayModel, file_sha256, load_model
from pipelines.registry import tracking
from pipelines.storage import DataPath, Layout

MODEL = "model"
TAGS = {MODEL: tracking.SHA_TAG, tracking.VOCAB_ARTIFACT: "vocab_sha256",
        tracking.REFERENCE_ARTIFACT: "reference_sha256"}


class IntegrityError(StageError):
    """A file of a registered version does not have the bytes its hash tag records."""


def hash_tags(files: dict[str, DataPath]) -> dict[str, str]:
    """Version tags with the SHA-256 of the run's vocabularies and reference among `files`."""
    return {tag: file_sha256(files[name]) for name, tag in TAGS.items() if name != MODEL}


def checked(path: Path, tags: dict[str, str], name: str, version: str) -> Path:
    """`path` if its bytes hash to the tag recorded for `name`; else IntegrityError."""
    expected = tags.get(TAGS[name])
    if expected is None:
        raise IntegrityError(f"model version {version}: no {TAGS[name]} tag, so {path} cannot be checked "
                             f"(registered before Railcast recorded it); retrain to register a checked one")
    actual = file_sha256(path)
    if actual != expected:
        raise IntegrityError(f"model version {version}: {path} has SHA-256 {actual[:12]}, the registry "
                             f"records {expected[:12]} ({TAGS[name]}); refusing to load it")
    return path


def model_files(layout: Layout, version: str) -> tuple[Path, Path, str]:
    """The checked model file and vocabularies of `version`, and the model's SHA-256."""
    info = tracking.version_info(layout, version)
    model = checked(tracking.model_file(layout, version), info["tags"], MODEL, version)
    vocab = tracking.run_artifact(layout, info["run_id"], tracking.VOCAB_ARTIFACT)
    return model, checked(vocab, info["tags"], tracking.VOCAB_ARTIFACT, version), info["tags"][TAGS[MODEL]]


def load_version(layout: Layout, version: str) -> DelayModel:
    """The DelayModel of a registered version, its files checked first."""
    model, vocab, _ = model_files(layout, version)
    return load_model(model, vocab)


def reference_file(layout: Layout, version: str) -> Path:
    """The checked holdout features + predictions `version` was trained with (the drift reference)."""
    info = tracking.version_info(layout, version)
    path = tracking.run_artifact(layout, info["run_id"], tracking.REFERENCE_ARTIFACT)
    return checked(path, info["tags"], tracking.REFERENCE_ARTIFACT, str(version))
