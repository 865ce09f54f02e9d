"""The `railcast` front-end: every stage and command explains itself, errors say what to do next."""

from __future__ import annotations

import pytest

from pipelines import cli
from pipelines.cli import COMMANDS
from pipelines.stages import STAGES

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", [*STAGES, *COMMANDS])
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert f"railcast {name}" in text and "--params" in text and "--home" in text
    described = STAGES.get(name) or COMMANDS[name][1]
    assert described.split()[0] in text  # the registry's one-line description heads the page


def test_no_command_prints_the_overview(capsys: pytest.CaptureFixture) -> None:
    assert cli.main([]) == 2
    text = capsys.readouterr().out
    assert all(name in text for name in STAGES)


def test_a_stage_error_exits_1_and_names_the_next_step(tmp_path, capsys: pytest.CaptureFixture) -> None:
    code = cli.main(["detect_departures", "--home", str(tmp_path), "--date", "2025-09-03"])
    assert code == 1
    err = capsys.readouterr().err
    assert "have not passed validation" in err and "railcast validate_snapshots --date 2025-09-03" in err


def test_a_bad_override_is_a_configuration_error(tmp_path, capsys: pytest.CaptureFixture) -> None:
    code = cli.main(["score", "--home", str(tmp_path), "--date", "2025-09-03", "--set", "train.nope=1"])
    assert code == 2
    assert "configuration error" in capsys.readouterr().err
