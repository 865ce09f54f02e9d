"""The production shape against the embedded default, measured in the same run.

1. The closed loop over four simulated days on two corridors (benchmarks/small_network.py), after a
   warm-up run that pays the first imports: once on the embedded default (SQLite state, SQLite MLflow
   store, local files) and once on the production shape (state on PostgreSQL, an MLflow server on
   PostgreSQL with artifacts in the S3 store, datasets and the DVC remote in the S3 store, SeaweedFS on
   loopback): wall time per simulated day, the ratio, and the seconds of each stage.
2. Reading from the store against local files, on the loops' own (identical) data: `detect_departures`
   of one service date, the training read (`read_model_rows`) and `train.fit` (read + LightGBM); the
   median of three alternating runs each, and the ratios.

Needs PostgreSQL ($RAILCAST_TEST_POSTGRES, default postgres@127.0.0.1:5432 with trust auth); without it
the figures say why they are missing.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.small_network import small_network
from pipelines.config import load_params
from pipelines.storage import Layout

DAYS = 4
SMALL = {"train.window_days": 2, "train.min_days": 2, "train.holdout_days": 1, "train.num_boost_round": 60,
         "gate.bootstrap_samples": 100}
ADMIN = os.environ.get("RAILCAST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def databases(count: int) -> Iterator[list[str]]:
    """`count` fresh PostgreSQL databases, dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    names = [f"railcast_bench_{secrets.token_hex(6)}" for _ in range(count)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield [sa.make_url(ADMIN).set(database=n).render_as_string(hide_password=False) for n in names]
    finally:
        from pipelines.state import db

        for engine in db._ENGINES.values():
            engine.dispose()
        db._ENGINES.clear()
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def production_shape(root: Path) -> Iterator[str]:
    """The S3 store, an MLflow server and PostgreSQL state, in this process's environment while open;
    yields the datasets' URI."""
    from pipelines.ops.mlflow_server import MlflowServer
    from pipelines.ops.object_store import SeaweedStore, free_port_pairs

    store = SeaweedStore(root / "s3", f"bench{secrets.token_hex(6)}", secrets.token_urlsafe(24),
                         buckets=("railcast",))
    with store, databases(2) as (state_url, mlflow_url):
        with MlflowServer(mlflow_url, "s3://railcast/mlflow", store.access, root / "mlflow-server",
                          port=free_port_pairs(1)[0]) as server:
            env = {**store.access.client_env(), "RAILCAST_DB_URL": state_url,
                   "MLFLOW_TRACKING_URI": server.url, "RAILCAST_DVC_REMOTE": "s3://railcast/dvc"}
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                yield "s3://railcast/data"
            finally:
                for key, value in saved.items():
                    os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


@contextmanager
def stage_seconds() -> Iterator[dict[str, float]]:
    """Seconds spent in each stage's run() while open (where the time goes)."""
    from pipelines import stages

    spent: dict[str, float] = {}
    original = stages.stage_module

    def timed(name: str):
        module = original(name)

        class Timed:
            def __getattr__(self, attr: str):
                return getattr(module, attr)

            def run(self, *args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return module.run(*args, **kwargs)
                finally:
                    spent[name] = round(spent.get(name, 0.0) + time.perf_counter() - t0, 2)
        return Timed()

    stages.stage_module = timed
    try:
        yield spent
    finally:
        stages.stage_module = original


def timed_loop(params, layout: Layout) -> tuple[float, dict, dict]:
    from pipelines.runtime import loop

    with stage_seconds() as spent:
        t0 = time.perf_counter()
        summary = loop.run_loop(params, layout, DAYS, scenario="stationary", seed=3, progress=lambda _: None)
        wall = time.perf_counter() - t0
    return wall, summary, {**spent, "outside_stages": round(wall - sum(spent.values()), 2)}


def median_alternating(runs: dict[str, Callable[[], object]], repeat: int = 3) -> dict[str, float]:
    """Median seconds of each callable, run in turns (the machine's noise hits both alike)."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, call in runs.items():
            t0 = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - t0)
    return {name: round(statistics.median(values), 3) for name, values in seconds.items()}


def reads(params, local: Layout, stored: Layout, as_of: dt.datetime) -> dict:
    """Detection, the training read and train.fit from local files and from the store."""
    from pipelines.detection import detect_departures
    from pipelines.modeling import train
    from pipelines.modeling import train_data as td

    day = dt.date(2025, 9, 1) + dt.timedelta(days=DAYS - 2)
    train_days, _ = td.split_days(params, local, as_of)
    out = {}
    for name, work in {"detect_one_day": lambda lay: detect_departures.run(params, lay, day),
                       "training_read": lambda lay: td.read_model_rows(params, lay, train_days, as_of),
                       "train_fit": lambda lay: train.fit(params, lay, as_of)}.items():
        timing = median_alternating({"local": lambda w=work: w(local), "s3": lambda w=work: w(stored)})
        out[name] = {**timing, "ratio_s3_vs_local": round(timing["s3"] / timing["local"], 2)}
    return out


def run() -> dict:
    params = load_params(overrides=SMALL)
    with tempfile.TemporaryDirectory(prefix="bench_production_") as tmp, small_network():
        root = Path(tmp)
        timed_loop(params, Layout(params, root / "warm-up"))  # first imports (Airflow, GX, Evidently, MLflow)
        embedded_s, embedded, embedded_stages = timed_loop(params, Layout(params, root / "embedded"))
        try:
            with production_shape(root) as data_uri:
                stored = Layout(params, root / "production", data=data_uri)
                production_s, production, production_stages = timed_loop(params, stored)
                same = {k: v for k, v in production.items() if k != "summary_file"} == {
                    k: v for k, v in embedded.items() if k != "summary_file"}
                as_of = next(r["retrain"]["as_of"] for r in embedded["days_records"] if r.get("retrain"))
                from pipelines.timeutil import parse_instant

                reading = reads(params, Layout(params, root / "embedded"), stored, parse_instant(as_of))
        except Exception as exc:  # noqa: BLE001 - a missing service is a figure too
            return {"embedded_s_per_day": round(embedded_s / DAYS, 2), "production": f"not measured: {exc}"}
    return {"days": DAYS, "embedded_s_per_day": round(embedded_s / DAYS, 2),
            "production_s_per_day": round(production_s / DAYS, 2),
            "ratio_production_vs_embedded": round(production_s / embedded_s, 2),
            "same_summary": same, "reading": reading, "target_ratio": 1.5,
            "seconds_by_stage": {"embedded": embedded_stages, "production": production_stages}}
