"""The production deployment of Railcast on one machine that runs PostgreSQL and Redis, and the one
description of its components that `railcast stack` (native) and `docker/compose.yaml` share.

Secrets (Airflow's JWT secret, API secret key and Fernet key, the admin password, the S3 keys) are made
once per deployment into a file of mode 0600 outside the repository, and reach processes by environment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets as random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipelines.ops.airflow_settings import ADMIN, WORKER_NAME_ENV, Production, Secrets, production_env
from pipelines.ops.object_store import S3Access
from pipelines.storage import Layout

POSTGRES_ENV = "RAILCAST_STACK_POSTGRES"  # a server URL with an account that may create databases
REDIS_ENV = "RAILCAST_STACK_REDIS"
SECRETS_DIR_ENV = "RAILCAST_SECRETS_DIR"
ADMIN_PASSWORD_ENV = "RAILCAST_ADMIN_PASSWORD"  # read by `stack init` only
DEFAULT_POSTGRES = "postgresql://127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
BUCKET = "railcast"  # datasets under data/, MLflow artifacts under mlflow/, the DVC remote under dvc/
SECRET_NAMES = ("jwt_secret", "api_secret_key", "fernet_key", "admin_password", "s3_access_key",
                "s3_secret_key")

# Each Airflow component: its command, as compose.yaml runs it too (tests/ops/test_compose.py checks).
COMPONENTS: dict[str, tuple[str, ...]] = {
    "airflow-apiserver": ("airflow", "api-server"),
    "airflow-scheduler": ("airflow", "scheduler"),
    "airflow-dag-processor": ("airflow", "dag-processor"),
    "airflow-triggerer": ("airflow", "triggerer"),
    "airflow-worker": ("airflow", "celery", "worker"),
}
# Natively every component shares one log folder, so none serves logs over HTTP (Airflow's log server
# listens on every interface and has no setting for that); in containers they must.
LOCAL_ONLY = ("--skip-serve-logs",)


def component_argv(name: str, *, native: bool, worker: int = 0) -> list[str]:
    """The command of component `name`; natively workers are told apart by a Celery node name."""
    argv = list(COMPONENTS[name])
    if native and name in ("airflow-triggerer", "airflow-worker"):
        argv += LOCAL_ONLY
    if native and name == "airflow-worker":
        argv += ["-H", f"worker-{worker}@%h"]
    return argv


def secrets_file(name: str, home: Path) -> Path:
    """Where a deployment's secrets live: RAILCAST_SECRETS_DIR or ~/.config/railcast, a file per name+home."""
    folder = Path(os.environ.get(SECRETS_DIR_ENV) or Path.home() / ".config" / "railcast")
    tag = hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:10]
    return folder / f"{name}-{tag}.json"


def generate() -> dict[str, str]:
    """Fresh random values for every secret of a deployment."""
    made = {name: random.token_urlsafe(32) for name in SECRET_NAMES}
    made["fernet_key"] = base64.urlsafe_b64encode(random.token_bytes(32)).decode()
    made["s3_access_key"] = "rc" + random.token_hex(10)
    return made


def load_secrets(path: Path) -> dict[str, str]:
    """The deployment's secrets, generated on first use (mode 0600, never printed)."""
    if path.exists():
        found = json.loads(path.read_text())
        if set(found) != set(SECRET_NAMES):
            raise ValueError(f"{path} is not a Railcast secrets file (expected keys {SECRET_NAMES})")
        return found
    made = generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another `stack up` made it first
        return load_secrets(path)
    with os.fdopen(fd, "w") as handle:
        json.dump(made, handle)
    return made


# docker/.env's variables and the secret each takes (docker/.env.example lists them, empty)
COMPOSE_SECRETS = {"POSTGRES_PASSWORD": "postgres_password", "AIRFLOW_ADMIN_PASSWORD": "admin_password",
                   "AIRFLOW_FERNET_KEY": "fernet_key", "AIRFLOW_JWT_SECRET": "jwt_secret",
                   "AIRFLOW_API_SECRET_KEY": "api_secret_key", "S3_ACCESS_KEY": "s3_access_key",
                   "S3_SECRET_KEY": "s3_secret_key", "GRAFANA_ADMIN_PASSWORD": "grafana_password"}


def write_env_file(path: Path) -> Path:
    """A compose `.env` with fresh secrets (mode 0600; refuses to overwrite one)."""
    made = {**generate(), "postgres_password": random.token_urlsafe(24),
            "grafana_password": random.token_urlsafe(24)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{name}={made[key]}\n" for name, key in COMPOSE_SECRETS.items())
    return path


@dataclass(frozen=True)
class Stack:
    """One deployment: its name (prefix of its databases), data root, addresses and ports."""

    name: str
    layout: Layout
    postgres: str = DEFAULT_POSTGRES
    redis: str = DEFAULT_REDIS
    host: str = "127.0.0.1"
    airflow_port: int = 8080
    mlflow_port: int = 5000
    s3_port: int = 8333
    health_port: int = 8974
    workers: int = 2
    concurrency: int = 2  # task slots per worker

    @property
    def folder(self) -> Path:
        """Its processes' logs, the S3 store's data and the record of what runs (`stack.json`)."""
        return self.layout.root / "stack" / self.name

    @property
    def secrets_path(self) -> Path:
        return secrets_file(self.name, self.layout.root)

    def secrets(self) -> dict[str, str]:
        """The deployment's secrets (generated on first use)."""
        return load_secrets(self.secrets_path)

    def database(self, role: str, driver: str) -> str:
        """URL of the deployment's database for `role` (airflow, mlflow, state) with a SQLAlchemy driver."""
        import sqlalchemy as sa

        url = sa.make_url(self.postgres).set(drivername=f"postgresql+{driver}",
                                             database=f"{self.name}_{role}")
        return url.render_as_string(hide_password=False)

    def urls(self) -> dict[str, str]:
        return {"airflow": f"http://{self.host}:{self.airflow_port}",
                "mlflow": f"http://{self.host}:{self.mlflow_port}", "s3": f"http://{self.host}:{self.s3_port}"}

    def s3(self, found: dict[str, str]) -> S3Access:
        return S3Access(self.urls()["s3"], found["s3_access_key"], found["s3_secret_key"])

    def railcast_env(self, found: dict[str, str]) -> dict[str, str]:
        """What Railcast's own code in every task reads: state DB, tracking server, data store, DVC remote."""
        return {**self.s3(found).client_env(), "RAILCAST_DB_URL": self.database("state", "psycopg"),
                "MLFLOW_TRACKING_URI": self.urls()["mlflow"], "RAILCAST_DATA_URI": f"s3://{BUCKET}/data",
                "RAILCAST_DVC_REMOTE": f"s3://{BUCKET}/dvc"}

    def airflow_env(self, found: dict[str, str], base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of every Airflow process of this deployment (the CLI's too)."""
        where = Production(metadata_url=self.database("airflow", "psycopg2"), broker_url=self.redis,
                           api_url=self.urls()["airflow"], bind=self.host, api_port=self.airflow_port,
                           health_port=self.health_port, worker_concurrency=self.concurrency)
        shared = Secrets(found["jwt_secret"], found["api_secret_key"], found["fernet_key"])
        env = production_env(self.layout, self.folder / "airflow", where, shared, base)
        # Celery's keys in Redis carry the deployment's name: two deployments on one Redis never mix
        env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"] = f"{self.name}:"
        return {**env, **self.railcast_env(found)}


def worker_env(env: dict[str, str], worker: int) -> dict[str, str]:
    """A native worker's environment: its name is the host name its task instances record."""
    return {**env, WORKER_NAME_ENV: f"worker-{worker}"}


def init() -> dict:
    """Run inside the deployment's environment (compose's `airflow-init`, or `up`): migrate Airflow's
    database, create the `registry` pool and the admin (password from RAILCAST_ADMIN_PASSWORD)."""
    from pipelines.ops.airflow_local import airflow_bin
    from pipelines.runtime.schedule import REGISTRY_POOL

    password = os.environ.pop(ADMIN_PASSWORD_ENV, "")
    if not password:
        raise SystemExit(f"{ADMIN_PASSWORD_ENV} is not set: the admin needs a password you generated")
    subprocess.run([airflow_bin(), "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([airflow_bin(), "pools", "set", REGISTRY_POOL, "1", "alias moves and DVC writers"],
                   check=True, stdout=subprocess.DEVNULL)
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as builder:
        security = builder.sm
        if security.find_user(username=ADMIN) is None:
            security.add_user(ADMIN, "Railcast", "Admin", "admin@localhost", security.find_role("Admin"),
                              password)
    return {"admin": ADMIN}
