"""What the serving tests share: one `railcast serve` process on loopback over a real (embedded) MLflow
registry with two versions (1 weak, 2 full; 1 promoted), checking the alias every second."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import load_params
from pipelines.modeling import train
from tests.serving.helpers import serving
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
        log = Path(layout.root) / "serve.log"
        with serving(layout.root, log, "--reload-seconds", "1") as (base, proc):
            yield {"base": base, "params": params, "layout": layout, "as_of": as_of, "proc": proc, "log": log}
