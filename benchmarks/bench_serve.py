"""POST latency of `railcast serve` against `mlflow models serve --env-manager local` on the same version.

One registered version (synthetic features, 4 days of 3000 rows, 200 boosting rounds) served by
both, side by side in the same run; one client on one keep-alive connection sends the same rows to each
(Railcast takes the raw features, MLflow the encoded matrix its signature describes), 1 row and 100 rows
per request, after a warm-up. Figures: p50/p99 latency and requests per second.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.bench_train import write_days
from pipelines.config import PROJECT_ROOT, load_params
from pipelines.modeling import train
from pipelines.ops.mail_capture import free_port
from pipelines.registry import integrity, promote, tracking
from pipelines.storage import Layout

REQUESTS = {1: 600, 100: 200}  # per batch size, after WARMUP
WARMUP = 30


def start(argv: list[str], env: dict, port: int, probe: str, log: Path) -> subprocess.Popen:
    """Start a server and wait until `probe` answers 200."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", probe)
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[:4]} exited: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    raise TimeoutError(f"{argv[:4]} not ready: {log}")


def timed(port: int, path: str, bodies: list[bytes]) -> dict:
    """Latency of each request on one keep-alive connection; p50, p99 (ms) and requests/s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seconds = []
    for i, body in enumerate(bodies):
        t0 = time.perf_counter()
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        if i >= WARMUP:
            seconds.append(time.perf_counter() - t0)
    ms = sorted(s * 1000 for s in seconds)
    return {"p50_ms": round(statistics.median(ms), 2), "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2),
            "requests_per_s": round(len(ms) / sum(seconds), 1), "requests": len(ms)}


def bodies(layout: Layout, version: str, day, size: int, count: int) -> tuple[list[bytes], list[bytes]]:
    """The same rows as Railcast's body (raw features) and MLflow's (encoded matrix, dataframe_split)."""
    model = integrity.load_version(layout, version)
    names = model.booster.feature_name()
    frame = pd.read_parquet(layout.day_file("features", day), columns=names)
    ours, theirs = [], []
    for i in range(count):
        rows = frame.iloc[(i * size) % (len(frame) - size):][:size]
        raw = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
               for r in rows.astype(object).to_dict("records")]
        ours.append(json.dumps({"rows": raw}).encode())
        matrix = model.matrix(rows)
        theirs.append(json.dumps({"dataframe_split": json.loads(matrix.to_json(orient="split",
                                                                               index=False))}).encode())
    return ours, theirs


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        params = load_params(overrides={"train.num_boost_round": 200, "train.window_days": 4,
                                        "train.min_days": 3, "train.holdout_days": 1,
                                        "lineage.version_inputs": False})
        layout = Layout(params, Path(tmp) / "home")
        first = params.simulation.start_date
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
        try:
            as_of = write_days(params, layout, first, 5, 3000)
            version = train.run(params, layout, as_of, {"kind": "bootstrap"})["version"]
            promote.run(params, layout, {"version": version, "champion_version": None, "passed": True,
                                         "reason": "bench", "as_of": as_of.isoformat(), "dry_run": False})
            ours_port, theirs_port = free_port(), free_port()
            # it starts `uvicorn` by name: this environment's bin/ first
            mlflow_env = {**env, "MLFLOW_TRACKING_URI": tracking.tracking_uri(layout),
                          "PATH": os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))}
            procs = [start([sys.executable, "-m", "pipelines", "serve", "--home", str(layout.root),
                            "--port", str(ours_port)], env, ours_port, "/healthz", Path(tmp) / "ours.log"),
                     start([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                            f"models:/{tracking.MODEL_NAME}/{version}", "--env-manager", "local",
                            "--host", "127.0.0.1", "-p", str(theirs_port)], mlflow_env, theirs_port,
                           "/ping", Path(tmp) / "mlflow.log")]
            try:
                out: dict = {"model_version": version, "trees": params.train.num_boost_round}
                for size, count in REQUESTS.items():
                    ours, theirs = bodies(layout, version, first, size, count + WARMUP)
                    out[f"rows_{size}"] = {"railcast": timed(ours_port, "/v1/predict", ours),
                                           "mlflow_models_serve": timed(theirs_port, "/invocations", theirs)}
                    pair = out[f"rows_{size}"]
                    pair["p99_ratio_mlflow_over_railcast"] = round(
                        pair["mlflow_models_serve"]["p99_ms"] / pair["railcast"]["p99_ms"], 2)
            finally:
                for proc in procs:
                    os.killpg(proc.pid, 15)
                    proc.wait(timeout=30)
        finally:
            if saved is not None:
                os.environ["MLFLOW_TRACKING_URI"] = saved
    return {**out, "goal": "p99 < 20 ms for one row, at least as fast as mlflow models serve",
            "load_avg": os.getloadavg()}
