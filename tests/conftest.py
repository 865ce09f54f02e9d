"""Shared fixtures: every test gets its own RAILCAST_HOME; nothing touches the project's state."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import Params, load_params
from pipelines.storage import Layout


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    root.mkdir()
    monkeypatch.setenv("RAILCAST_HOME", str(root))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return root


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory):
    """One SeaweedFS process for the whole run (tests take a bucket each: `services.new_bucket`)."""
    from tests.services import start_object_store

    store = start_object_store(tmp_path_factory.mktemp("s3-store"))
    yield store.access
    store.stop()


@pytest.fixture()
def params() -> Params:
    return load_params()


@pytest.fixture()
def layout(params: Params, home: Path) -> Layout:
    return Layout(params, home)


KINDS = ("unit", "data", "integration", "dags", "model", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test carries exactly one kind of the taxonomy (pyproject.toml's markers), so `-m` selects it."""
    for item in items:
        kinds = sorted({m.name for m in item.iter_markers() if m.name in KINDS})
        if len(kinds) != 1:
            raise pytest.UsageError(f"{item.nodeid}: needs exactly one of the markers {KINDS}, has {kinds}")
