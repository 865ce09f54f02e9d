"""What the serving tests share: one `railcast serve` process on loopback over a real (embedded) MLflow
registry with two versions (1 weak, 2 full; 1 promoted), checking the alias every second."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.config import PROJECT_ROOT, load_params
from pipelines.modeling import train
from tests.airflow_helpers import free_port
from tests.serving.helpers import call_quietly
from tests.small_training import SMALL_SERVE as SMALL
from tests.small_training import promote_passed, synthetic_store


@pytest.fixture(scope="package")
def served(tmp_path_factory):
    """Two versions (1 weak, 2 full), 1 promoted; `railcast serve` checking the alias every second."""
    with synthetic_store(tmp_path_factory, "serve", SMALL, 5, 600) as (params, layout, as_of):
        weak = load_params(overrides={**SMALL, "train.num_boost_round": 8})
        train.run(weak, layout, as_of, {"kind": "bootstrap"})
        train.run(params, layout, as_of, {"kind": "manual", "reason": "second"})
        promote_passed(params, layout, "1", None, as_of)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        log = Path(layout.root) / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "pipelines", "serve", "--home", str(layout.root),
                                     "--port", str(port), "--reload-seconds", "1"],
                                    cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while call_quietly(base) != 200:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
            yield {"base": base, "params": params, "layout": layout, "as_of": as_of, "proc": proc, "log": log}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
