"""`make demo STACK=production`: the same demo on the production deployment (`railcast stack`).

The deployment is named `railcast_demo` (databases `railcast_demo_airflow`, `_mlflow`, `_state`; Redis
keys `railcast_demo:`); it runs on free ports with two Celery workers and its data in its own S3 store
under RAILCAST_HOME. Like the embedded demo it starts clean (its databases are dropped first) and stops
everything at the end, with the DAGs paused so that `railcast stack up --name railcast_demo` afterwards
shows the demo's runs without starting real-time ones.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pipelines.config import Params
from pipelines.demo.on_airflow import Progress
from pipelines.errors import StageError
from pipelines.ops import stack as plan
from pipelines.ops.airflow_api import AirflowApi
from pipelines.ops.airflow_settings import ADMIN, environment
from pipelines.runtime.schedule import DAG_IDS
from pipelines.state.db import redacted
from pipelines.storage import Layout
from pipelines.storage.layout import DATA_URI_ENV

NAME = "railcast_demo"


def demo_stack(layout: Layout, port: int) -> plan.Stack:
    """The demo's deployment: PostgreSQL and Redis as `railcast stack` finds them, free ports."""
    from pipelines.ops.mail_capture import free_port
    from pipelines.ops.object_store import free_port_pairs

    return plan.Stack(NAME, layout, os.environ.get(plan.POSTGRES_ENV, plan.DEFAULT_POSTGRES),
                      os.environ.get(plan.REDIS_ENV, plan.DEFAULT_REDIS), airflow_port=port,
                      mlflow_port=free_port(), s3_port=free_port_pairs(1)[0], health_port=free_port())


def stop_previous(layout: Layout, progress: Progress) -> None:
    """Stop a demo deployment still recorded under RAILCAST_HOME (its driver was killed), before the
    home it runs in is emptied."""
    from pipelines.ops import stack_cli

    stack = demo_stack(layout, 0)
    if stack_cli.read_record(stack) is not None:
        progress(f"stopping the previous demo's deployment {NAME} ...")
        stack_cli.down(stack)


def require_services(stack: plan.Stack) -> None:
    """PostgreSQL and Redis answer, or a StageError that says which one and how to point at it."""
    import redis
    import sqlalchemy as sa

    from pipelines.ops.stack_services import admin_engine

    engine, server = admin_engine(stack), sa.make_url(stack.postgres)
    try:
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError as exc:
        raise StageError(f"the production demo needs PostgreSQL at {server.host}:"
                         f"{server.port or 5432} with an account that may create "
                         f"databases ({type(exc).__name__}); set {plan.POSTGRES_ENV} to its URL, or run "
                         f"`make demo` (embedded)") from exc
    finally:
        engine.dispose()
    try:
        redis.Redis.from_url(stack.redis, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise StageError(f"the production demo needs Redis ({type(exc).__name__}); set {plan.REDIS_ENV} "
                         f"to its URL, or run `make demo` (embedded)") from exc


def locations(stack: plan.Stack) -> dict[str, str]:
    """Where the production demo's state lives, and how to look at it after the demo stopped."""
    urls = stack.urls()
    again = f"RAILCAST_HOME={stack.layout.root} railcast stack up --name {NAME}"
    return {"data": f"s3://{plan.BUCKET}/data in the S3 store under {stack.folder / 's3'}",
            "mlflow": f"PostgreSQL database {NAME}_mlflow, artifacts s3://{plan.BUCKET}/mlflow",
            "alias_history": f"table alias_moves in {redacted(stack.database('state', 'psycopg'))}",
            "airflow_ui": f"{again} -> {urls['airflow']} (user {ADMIN}, password: "
                          f"`railcast stack password --name {NAME}`); DAGs are left paused",
            "mlflow_ui": f"the same `stack up` -> {urls['mlflow']}",
            "stop": f"{again.replace(' up ', ' down ')}"}


def pause(api: AirflowApi | None) -> None:
    """Pause the DAGs: a later `stack up` must not start real-time runs in a simulation's deployment."""
    from pipelines.ops.airflow_api import AirflowError

    for dag_id in DAG_IDS if api else ():
        try:
            api.set_paused(dag_id, True)
        except (AirflowError, OSError):  # the API server died: nothing runs either way
            return


@contextmanager
def production(params: Params, layout: Layout, extra: dict[str, str], port: int,
               progress: Progress) -> Iterator[tuple[AirflowApi, Layout, dict]]:
    """Start the demo's deployment with `extra` in every process's environment; yield an API client, the
    layout the driver reads the data through (the S3 store) and where things are; always stop it."""
    from pipelines.ops import stack_cli
    from pipelines.ops.stack_services import drop_databases

    stack = demo_stack(layout, port)
    require_services(stack)
    found = stack.secrets()
    drop_databases(stack)  # a demo starts clean: RAILCAST_HOME is emptied, so are its databases
    stores = stack.railcast_env(found)
    with environment({**extra, **stores}):  # the driver reads the same stores as the tasks
        t0, api = time.monotonic(), None
        try:
            stack_cli.up(stack)
            progress(f"production deployment {NAME} up after {time.monotonic() - t0:.0f} s: PostgreSQL, "
                     f"Redis, {stack.workers} Celery workers, MLflow {stack.urls()['mlflow']}, S3 "
                     f"{stack.urls()['s3']} (logs: {stack.folder / 'logs'})")
            api = AirflowApi(stack.airflow_port, ADMIN, found["admin_password"])
            yield api, Layout(params, layout.root, data=stores[DATA_URI_ENV]), locations(stack)
        finally:
            progress("stopping the production deployment ...")
            pause(api)
            stopped = stack_cli.down(stack)
            progress(f"stopped {len(stopped.get('stopped', []))} services; left running: "
                     f"{stopped.get('left_running') or 'none'}")
