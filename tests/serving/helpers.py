"""HTTP helpers of the serving tests."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

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
