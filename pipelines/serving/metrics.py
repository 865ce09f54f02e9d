"""What the prediction API exports at /metrics (Prometheus text format), in a registry of its own.

One server process (uvicorn, one worker) owns the registry; several workers would need prometheus_client's
multiprocess mode, which Railcast does not use: scale out with more processes behind a balancer, each
scraped on its own.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipelines.serving.champion import Loaded

# Request latency buckets, seconds: one-row predictions take about a millisecond
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The API's metrics; names carry the `railcast_` prefix."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("railcast_http_requests_total", "HTTP requests by route, method and status",
                                ("route", "method", "status"), registry=r)
        self.latency = Histogram("railcast_http_request_duration_seconds", "HTTP request latency by route",
                                 ("route",), buckets=BUCKETS, registry=r)
        self.predictions = Counter("railcast_predictions_total", "Rows predicted, by model version",
                                   ("model_version",), registry=r)
        self.rows = Histogram("railcast_predict_rows", "Rows per POST /v1/predict",
                              buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), registry=r)
        self.champion = Gauge("railcast_champion_version", "Model version served (the champion alias)",
                              registry=r)
        self.champion_info = Gauge("railcast_champion_info", "Served version and its SHA-256 (value 1)",
                                   ("version", "sha256"), registry=r)
        self.promoted = Gauge("railcast_champion_promoted_timestamp_seconds",
                              "When the alias moved to the served version", registry=r)
        self.loaded = Gauge("railcast_champion_loaded_timestamp_seconds", "When this server loaded it",
                            registry=r)
        self.reloads = Counter("railcast_model_reloads_total",
                               "Champion reloads: loaded, refused (hash mismatch) or failed (registry error)",
                               ("outcome",), registry=r)

    def model_changed(self, outcome: str, loaded: Loaded | None) -> None:
        """Champion's callback: count the outcome; on a load, describe the served version."""
        self.reloads.labels(outcome).inc()
        if outcome != "loaded" or loaded is None:
            return
        self.champion_info.clear()
        self.champion_info.labels(loaded.version, loaded.sha256).set(1)
        self.champion.set(float(loaded.version))
        self.loaded.set(loaded.loaded_at)
        if loaded.promoted_at:
            self.promoted.set(dt.datetime.fromisoformat(loaded.promoted_at).timestamp())
