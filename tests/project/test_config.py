"""params.yaml parsing: strict keys, typed values, overrides."""

from pathlib import Path

import pytest
import yaml

from pipelines.config import ConfigError, load_params, scenario

pytestmark = pytest.mark.unit


def test_project_params_load() -> None:
    p = load_params()
    assert p.simulation.poll_interval_min == 3
    assert scenario(p, "stationary").kind == "stationary"


def test_unknown_key_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(Path("params.yaml").read_text())
    data["train"]["window_dayz"] = 3
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="window_dayz"):
        load_params(bad)


def test_missing_key_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(Path("params.yaml").read_text())
    del data["gate"]["min_gain_over_persistence"]
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="min_gain_over_persistence"):
        load_params(bad)


def test_wrong_type_refused() -> None:
    with pytest.raises(ConfigError, match="expected int"):
        load_params(overrides={"train.window_days": "many"})


def test_override_and_unknown_scenario() -> None:
    p = load_params(overrides={"train.window_days": 3})
    assert p.train.window_days == 3
    with pytest.raises(ConfigError, match="unknown scenario"):
        scenario(p, "meteor")
