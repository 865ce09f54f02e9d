"""dvc.yaml: stage wiring; `dvc repro` of train -> evaluate in a temporary git repo with a local remote."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.config import PROJECT_ROOT
from pipelines.modeling.model import file_sha256
from pipelines.stages import STAGES
from tests.small_training import small_training

pytestmark = pytest.mark.integration

DVC_FILE = PROJECT_ROOT / "dvc.yaml"
# One LightGBM thread: OpenMP spin-waits badly on a shared, oversubscribed machine.
SMALL = small_training(3, 2, 60, **{"simulation.days": 4, "gate.bootstrap_samples": 200})


def stages() -> dict:
    return yaml.safe_load(DVC_FILE.read_text())["stages"]


def test_stages_are_pipeline_stages_with_declared_params():
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    for name, stage in stages().items():
        assert name in STAGES, name
        assert f"python -m pipelines {name} --home data" in stage["cmd"]
        assert "-u MLFLOW_TRACKING_URI" in stage["cmd"]  # never the live tracking store
        for key in stage["params"]:
            node = params
            for part in key.split("."):
                node = node[part]  # KeyError: a stage lists a params key that does not exist
    assert list(stages())[-2:] == ["train", "evaluate"]
    assert "promote" not in stages()  # DVC never moves aliases


def _override(path: Path, overrides: dict) -> None:
    data = yaml.safe_load(path.read_text())
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        data[section][key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _workspace(root: Path) -> None:
    """A git + DVC repo holding a copy of the project code, params and a dvc.yaml of the stages run here."""
    shutil.copytree(PROJECT_ROOT / "pipelines", root / "pipelines",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "params.yaml", root / "params.yaml")
    shutil.copy(PROJECT_ROOT / ".gitignore", root / ".gitignore")
    _override(root / "params.yaml", SMALL)
    shutil.copy(DVC_FILE, root / "dvc.yaml")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc(root, "init", "-q")
    dvc(root, "remote", "add", "-d", "local", "../remote")


def dvc(root: Path, *args: str) -> str:
    """Run a dvc command in-process (its import is paid once); the stage commands still run as processes."""
    from dvc.cli import main as dvc_main

    here = os.getcwd()
    buffer = io.StringIO()
    try:
        os.chdir(root)
        with contextlib.redirect_stdout(buffer):
            code = dvc_main(list(args))
    finally:
        os.chdir(here)
    assert code == 0, f"dvc {' '.join(args)} failed:\n{buffer.getvalue()}"
    return buffer.getvalue()


@pytest.mark.slow
def test_dvc_repro_train_evaluate_and_remote_round_trip(tmp_path, tmp_path_factory, monkeypatch):
    root = tmp_path / "repo"
    root.mkdir()
    live = tmp_path / "live-home"
    live.mkdir()
    monkeypatch.setenv("RAILCAST_HOME", str(live))                  # must stay untouched
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{live}/mlflow.db")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # Stage processes re-import the stack: let them share compiled bytecode across test sessions.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path_factory.getbasetemp().parent / "railcast-pycache"))
    _workspace(root)

    dvc(root, "repro")
    detection = json.loads((root / "data/metrics/detect_departures.json").read_text())
    assert detection["days"] == SMALL["simulation.days"] and detection["found_share"] > 0.99
    train_metrics = json.loads((root / "data/metrics/train.json").read_text())
    evaluated = json.loads((root / "data/metrics/evaluate.json").read_text())
    assert evaluated["mae"] < evaluated["mae_persistence"] and evaluated["passed"] is True
    assert evaluated["mae_champion"] is None  # gate.champion_model is empty: persistence rule only
    assert evaluated["mae"] == pytest.approx(train_metrics["mae"], abs=1e-6)
    plot = (root / "data/metrics/predicted_vs_actual.csv").read_text().splitlines()
    assert plot[0] == "departure_id,label,prediction" and len(plot) > 100
    assert (root / "data/mlflow/mlflow.db").exists() and list(live.iterdir()) == []
    from dvc.api import metrics_show
    from dvc.repo import Repo

    monkeypatch.chdir(root)  # dvc names metrics files relative to the working directory
    shown = metrics_show(repo=str(root))
    assert shown["data/metrics/evaluate.json:mae"] == pytest.approx(evaluated["mae"])

    model = root / "data/models/challenger/model.txt"
    digest = file_sha256(model)
    with Repo(str(root)) as repo:
        assert repo.status() == {}  # nothing changed since the repro: nothing would rerun
    dvc(root, "push")
    shutil.rmtree(root / "data/models/challenger")
    shutil.rmtree(root / ".dvc/cache")
    dvc(root, "pull")
    assert file_sha256(model) == digest
