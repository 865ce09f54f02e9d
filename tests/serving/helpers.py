"""HTTP helpers of the serving tests."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from tests.small_training import day


def call(base: str, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, dict | str]:
    """One HTTP call; (status, JSON body or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def feature_rows(layout, features: tuple[str, ...], n: int) -> list[dict]:
    """`n` rows of a real features partition as JSON objects (NaN as null)."""
    frame = pd.read_parquet(layout.day_file("features", day(5)), columns=list(features)).head(n)
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict("records")]


def call_quietly(base: str) -> int | None:
    try:
        return call(base, "/healthz")[0]
    except OSError:
        return None


def metric(base: str, series: str) -> float:
    """The value of one series (name with its labels, as /metrics prints it), 0 when absent."""
    for line in call(base, "/metrics")[1].splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@contextmanager
def serving(home, log, *extra: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`railcast serve` over data root `home` on a free loopback port, once /healthz answers 200:
    (base URL, process); terminated on exit. The embedded registry: MLFLOW_TRACKING_URI unset."""
    from pipelines.config import PROJECT_ROOT
    from tests.airflow_helpers import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines", "serve", "--home", str(home), "--port",
                                 str(port), *extra], cwd=PROJECT_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while call_quietly(base) != 200:
            assert proc.poll() is None and time.monotonic() < deadline, Path(log).read_text()[-3000:]
            time.sleep(0.5)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
