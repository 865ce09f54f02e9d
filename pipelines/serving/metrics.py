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


class MonitorFigures:
    """A collector of the monitor's latest daily figures (its newest decision record), read at most
    every `every_s` seconds: what an operator watches beside the API's own numbers."""

    def __init__(self, layout, every_s: float = 60.0) -> None:
        self.layout, self.every_s = layout, every_s
        self.read_at, self.figures = -every_s, {}

    def _read(self) -> dict:
        import json
        import time

        if time.monotonic() - self.read_at < self.every_s:
            return self.figures
        self.read_at = time.monotonic()
        root = self.layout.dataset("reports") / "drift"
        days = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []
        for day in reversed(days):
            record = root / day / "decision.json"
            if record.exists():
                evidence = json.loads(record.read_text()).get("evidence", {})
                live = evidence.get("served_live") or {}
                current = (evidence.get("skill") or {}).get("current") or {}
                midnight = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
                self.figures = {
                    "day_timestamp_seconds": midnight.timestamp(),
                    "drift_share": (evidence.get("drift_share") or {}).get("share"),
                    "drifted": None if evidence.get("drifted") is None else float(bool(evidence["drifted"])),
                    "skill": current.get("skill"), "mae": current.get("mae"),
                    "live_mae": live.get("mae"), "live_labeled": live.get("n_labeled")}
                break
        return self.figures

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        for name, value in self._read().items():
            if value is not None:
                yield GaugeMetricFamily(f"railcast_monitor_{name}", MONITOR_HELP[name], value=float(value))


MONITOR_HELP = {
    "day_timestamp_seconds": "Service date of the newest monitor check (UTC midnight, unix time)",
    "drift_share": "Share of feature columns that drifted in that check",
    "drifted": "1 when any drift signal fired in that check",
    "skill": "Champion's skill vs persistence on the window's matured labels",
    "mae": "Champion's MAE (minutes) on the window's matured labels (the daily score)",
    "live_mae": "MAE (minutes) of the predictions served live, on the window's matured labels",
    "live_labeled": "Live predictions of the window with a matured label",
}
