"""The services of a native deployment (`railcast stack up`): how each starts and when it answers."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from pipelines.ops import stack as plan
from pipelines.ops.process_tree import Service


class Component(Service):
    """One long-running command of the deployment."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir) -> None:
        self.name, self.argv, self.env, self.log_dir = name, argv, env, log_dir

    def start(self) -> Component:
        self.spawn(self.argv, self.env, self.log_dir / f"{self.name}.log")
        return self


def answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status == 200


def workers_answer(stack: plan.Stack, names: set[str]) -> bool:
    """Every Celery worker of `names` (worker-1, ...) answers a ping through the broker."""
    from celery import Celery  # first imported by `services`: celery's lazy package breaks under threads

    app = Celery(broker=stack.redis, broker_transport_options={"global_keyprefix": f"{stack.name}:"})
    try:
        replies = app.control.inspect(timeout=2).ping() or {}
    finally:
        app.close()
    return names <= {node.split("@", 1)[0] for node in replies}


def services(stack: plan.Stack, found: dict[str, str]) -> list[tuple[str, Callable[[], Service]]]:
    """Every service of the deployment in start order, each with the function that starts it and
    returns once it answers."""
    from celery import Celery  # noqa: F401 (here, in one thread: two threads at once fail on its lazy names)

    from pipelines.ops.mlflow_server import MlflowServer
    from pipelines.ops.object_store import SeaweedStore

    logs, access, env, urls = stack.folder / "logs", stack.s3(found), stack.airflow_env(found), stack.urls()

    def store() -> Service:
        made = SeaweedStore(stack.folder / "s3", access.access_key, access.secret_key, host=stack.host,
                            s3_port=stack.s3_port, buckets=(plan.BUCKET,))
        made.name = "s3-store"
        return made.start()

    def tracking() -> Service:
        made = MlflowServer(stack.database("mlflow", "psycopg2"), f"s3://{plan.BUCKET}/mlflow", access, logs,
                            host=stack.host, port=stack.mlflow_port)
        made.name = "mlflow-server"
        return made.start()

    def component(name: str, ready: Callable[[], bool], worker: int = 0) -> Callable[[], Service]:
        def start() -> Service:
            kind = "airflow-worker" if worker else name
            made = Component(name, plan.component_argv(kind, native=True, worker=worker),
                             plan.worker_env(env, worker) if worker else env, logs).start()
            made.wait_ready(ready, timeout_s=240)
            return made
        return start

    found_up = lambda: True  # noqa: E731 (no readiness check of its own: the scheduler's covers it)
    listed = [("s3-store", store), ("mlflow-server", tracking),
              ("airflow-apiserver", component("airflow-apiserver",
                                              lambda: answers(urls["airflow"] + "/api/v2/monitor/health"))),
              ("airflow-scheduler", component("airflow-scheduler", lambda: answers(
                  f"http://{stack.host}:{stack.health_port}/health"))),
              ("airflow-dag-processor", component("airflow-dag-processor", found_up)),
              ("airflow-triggerer", component("airflow-triggerer", found_up))]
    for i in range(1, stack.workers + 1):
        listed.append((f"airflow-worker-{i}", component(
            f"airflow-worker-{i}", lambda i=i: workers_answer(stack, {f"worker-{i}"}), worker=i)))
    return listed


def admin_engine(stack: plan.Stack):
    """An engine on the deployment's PostgreSQL server with an account that may create databases."""
    import sqlalchemy as sa

    return sa.create_engine(sa.make_url(stack.postgres).set(drivername="postgresql+psycopg"),
                            isolation_level="AUTOCOMMIT")


def ensure_databases(stack: plan.Stack) -> None:
    """Create the deployment's databases (airflow, mlflow, state) where missing."""
    import sqlalchemy as sa

    engine = admin_engine(stack)
    try:
        with engine.connect() as conn:
            for role in ("airflow", "mlflow", "state"):
                name = f"{stack.name}_{role}"
                known = sa.text("SELECT 1 FROM pg_database WHERE datname = :n")
                if not conn.execute(known, {"n": name}).first():
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def drop_databases(stack: plan.Stack) -> None:
    """Drop the deployment's databases (a throwaway deployment: tests, benchmarks); run after `down`."""
    import sqlalchemy as sa

    engine = admin_engine(stack)
    try:
        with engine.connect() as conn:
            for role in ("airflow", "mlflow", "state"):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{stack.name}_{role}" WITH (FORCE)'))
    finally:
        engine.dispose()
