"""docker/compose.yaml and the native launcher describe one deployment: the Airflow services run the same
commands with the same environment variables as `railcast stack up`, secrets have no working default,
every published port is on 127.0.0.1. (These machines have no Docker engine: the file is parsed here,
and `docker compose config` checks it where the compose plugin exists.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines.config import PROJECT_ROOT, load_params
from pipelines.ops import mlflow_server, stack
from pipelines.ops.object_store import S3Access
from pipelines.storage import Layout

pytestmark = pytest.mark.unit
DOCKER = PROJECT_ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW = [name for name in stack.COMPONENTS]
SECRET = re.compile(r"^\$\{([A-Z0-9_]+):\?[^}]+\}$")


def native_env_names(tmp_path: Path) -> set[str]:
    """Variables the native launcher gives every Airflow process, beyond what the machine already has."""
    fake = {name: "x" for name in stack.SECRET_NAMES}
    deployment = stack.Stack("railcast", Layout(load_params(), tmp_path))
    return set(deployment.airflow_env(fake, base={})) - {"PATH", "PYTHONPATH"}


def test_every_airflow_component_runs_the_native_command() -> None:
    for name in AIRFLOW:
        assert SERVICES[name]["command"] == stack.component_argv(name, native=False), name
    assert "container_name" not in SERVICES["airflow-worker"] and "ports" not in SERVICES["airflow-worker"], \
        "the worker service must scale (`--scale airflow-worker=3`)"
    assert SERVICES["airflow-init"]["command"] == ["railcast", "stack", "init"]


def test_airflow_services_get_the_native_environment_names(tmp_path) -> None:
    native = native_env_names(tmp_path)
    for name in [*AIRFLOW, "airflow-init"]:
        names = set(SERVICES[name]["environment"]) - {stack.ADMIN_PASSWORD_ENV}
        assert names == native, (name, sorted(names ^ native))


def test_the_mlflow_server_runs_like_the_native_one(tmp_path) -> None:
    native = mlflow_server.MlflowServer("postgresql://db/mlflow", "s3://railcast/mlflow",
                                        S3Access("http://s3:8333", "a", "b"), tmp_path, port=5000)
    flags = lambda argv: [a for a in argv if a.startswith("--")]  # noqa: E731
    assert flags(SERVICES["mlflow"]["command"]) == flags(native.command())
    added = set(native.environment()) - set(__import__("os").environ)
    assert set(SERVICES["mlflow"]["environment"]) == added


def test_secrets_have_no_working_default_and_the_example_lists_each() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert required == set(stack.COMPOSE_SECRETS), "every secret is required, with no default"
    assert not re.search(r"\$\{(" + "|".join(required) + r")(:?-)", text), "a secret with a default"
    env = SERVICES["airflow-scheduler"]["environment"]
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert SECRET.match(env[key]), key
    example = dict(line.split("=", 1) for line in (DOCKER / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert example == dict.fromkeys(required, ""), ".env.example names every secret and fills in none"


def test_published_ports_are_on_loopback_and_services_have_health_checks() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        if name != "airflow-init":
            assert "healthcheck" in service, f"{name} has no health check"
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in SERVICES and condition["condition"].startswith("service_"), (name, needed)


def test_the_dockerfile_builds_from_the_lock_as_a_non_root_user() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert "uv sync --frozen" in text and "COPY pyproject.toml uv.lock" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")


def test_env_file_writes_fresh_secrets_once(tmp_path) -> None:
    path = stack.write_env_file(tmp_path / ".env")
    values = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert set(values) == set(stack.COMPOSE_SECRETS) and all(len(v) >= 16 for v in values.values())
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        stack.write_env_file(path)
    assert stack.write_env_file(tmp_path / "other.env").read_text() != path.read_text()


@pytest.mark.skipif(not shutil.which("docker"), reason="no docker client on this machine")
def test_docker_compose_config_accepts_the_file(tmp_path) -> None:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed (the docker client is)")
    env_file = stack.write_env_file(tmp_path / ".env")
    command = ["docker", "compose", "-f", str(DOCKER / "compose.yaml"), "--env-file", str(env_file)]
    done = subprocess.run([*command, "config", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
