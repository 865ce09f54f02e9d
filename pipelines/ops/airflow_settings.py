"""Every Airflow setting Railcast makes, as Airflow's own `AIRFLOW__SECTION__KEY` environment variables.

Two profiles share `common`: `embedded_env` (SQLite, LocalExecutor, SimpleAuthManager: the demo and
development, `railcast airflow`) and `production_env` (PostgreSQL, CeleryExecutor with a Redis broker and
its results in PostgreSQL, FAB auth manager: `railcast stack`, `docker/compose.yaml`). Every Airflow
process of a deployment must get the same environment: the JWT secret, the API secret key and the Fernet
key in particular (a component that makes up its own fails every task with "Invalid auth token").
Nothing here starts a process or writes a file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import PROJECT_ROOT
from pipelines.runtime.schedule import TIMEZONE
from pipelines.storage import Layout

ADMIN = "admin"
DEFAULT_SMTP = {"conn_type": "smtp", "host": "127.0.0.1", "port": 8025,
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "railcast@localhost"}}
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
WORKER_NAME_ENV = "RAILCAST_WORKER_NAME"  # read by `worker_hostname`, set per Celery worker


def common(layout: Layout, home: Path, base: dict[str, str] | None) -> dict[str, str]:
    """What both profiles set: Railcast's DAGs and timezone, where logs go, this environment's Python."""
    env = dict(os.environ if base is None else base)
    env.update({
        "AIRFLOW_HOME": str(home),
        "RAILCAST_HOME": str(layout.root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # the timetables' zone: `backfill create --from-date 2025-09-22` then means Berlin midnight
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": TIMEZONE,
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p),
        # components spawn `airflow ...` by name: this environment's bin/ must come first
        "PATH": os.pathsep.join(p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p),
    })
    env.setdefault("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(DEFAULT_SMTP))  # a deployment sets its own
    return env


def embedded_env(layout: Layout, port: int = 8080, base: dict[str, str] | None = None,
                 paused_at_creation: bool = False, metadata_url: str | None = None) -> dict[str, str]:
    """The embedded profile: SQLite + LocalExecutor + SimpleAuthManager on 127.0.0.1:`port`.

    `paused_at_creation=True` when only some DAGs should run (tests): unpause those once parsed.
    `metadata_url`: Airflow's database elsewhere than SQLite (PostgreSQL, psycopg2 driver).
    """
    home = layout.airflow_home
    env = common(layout, home, base)
    if metadata_url:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata_url
    else:
        env.update({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "pipelines.ops.airflow_db.SYNC",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "pipelines.ops.airflow_db.ASYNC"})
    env.update({
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",  # Airflow's 32 starts 32 worker processes (~6 GB)
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(paused_at_creation),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
    })
    return env


@dataclass(frozen=True)
class Production:
    """Where a production deployment's pieces answer (no secrets: those are `Secrets`).

    `metadata_url`: Airflow's database (SQLAlchemy URL, psycopg2 driver); `broker_url`: Redis;
    `api_url`: how workers and the CLI reach the API server (its `/execution/` path runs the tasks);
    `bind`: the address the API server and the scheduler's health check listen on.
    """

    metadata_url: str
    broker_url: str
    api_url: str
    bind: str = "127.0.0.1"
    api_port: int = 8080
    health_port: int = 8974
    parallelism: int = 8
    worker_concurrency: int = 2


@dataclass(frozen=True)
class Secrets:
    """The values every component of one deployment shares; generated once, never in the repository."""

    jwt_secret: str
    api_secret_key: str
    fernet_key: str


def production_env(layout: Layout, home: Path, where: Production, secrets: Secrets,
                   base: dict[str, str] | None = None) -> dict[str, str]:
    """The production profile: PostgreSQL metadata, CeleryExecutor (Redis broker, results in PostgreSQL),
    FAB auth manager, the shared secrets, listeners on `where.bind`."""
    env = common(layout, home, base)
    env.update({
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(where.parallelism),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": where.metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": where.broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + where.metadata_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(where.worker_concurrency),
        # a dead worker's unacknowledged messages come back after this (Airflow's default: 24 h); it must
        # outlast the longest task (Railcast's execution_timeout is 1 h)
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "7200",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": where.api_url.rstrip("/") + "/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "pipelines.ops.airflow_settings.worker_hostname",
        "AIRFLOW__CORE__FERNET_KEY": secrets.fernet_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.jwt_secret,
        "AIRFLOW__API__SECRET_KEY": secrets.api_secret_key,
        "AIRFLOW__API__HOST": where.bind,
        "AIRFLOW__API__PORT": str(where.api_port),
        "AIRFLOW__API__BASE_URL": where.api_url.rstrip("/"),
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": where.bind,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(where.health_port),
        "AIRFLOW__FAB__CONFIG_FILE": str(home / "webserver_config.py"),
    })
    env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False")  # Railcast's DAGs are the product
    return env


def worker_hostname() -> str:
    """The host name Airflow records for a task instance (`[core] hostname_callable`): the worker's
    name when several workers share one machine, else the machine's FQDN (Airflow's default)."""
    import socket

    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` set in this process's environment (and so in every process it starts) while open; each
    variable gets its earlier value, or none, back afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
