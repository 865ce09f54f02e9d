"""What `railcast live` exports (Prometheus text format on its own port, 127.0.0.1 unless configured)."""

from __future__ import annotations

from collections import Counter as Counts
from typing import Any

import pyarrow as pa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from pipelines import schema as s

# decision -> published latency buckets, seconds (the goal is p99 under one second)
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LiveMetrics:
    """The live scorer's metrics; `observe` after every step."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.polls = Counter("railcast_live_polls_total", "Poll attempts read from the archive", registry=r)
        self.predictions = Counter("railcast_live_predictions_total", "Live predictions published",
                                   ("role", "model_version"), registry=r)
        self.withdrawn = Counter("railcast_live_withdrawn_total",
                                 "Published departures withdrawn (the train was shown again)", registry=r)
        self.unscored = Counter("railcast_live_unscored_total", "Decided departures without a champion",
                                registry=r)
        self.publish = Histogram("railcast_live_publish_seconds",
                                 "From reading the polls that decided departures to their rows published",
                                 buckets=BUCKETS, registry=r)
        self.clock = Gauge("railcast_live_clock_timestamp_seconds", "Newest poll instant read", registry=r)
        self.last_decided = Gauge("railcast_live_last_decided_timestamp_seconds",
                                  "decided_at of the newest decided departure", registry=r)
        self.lag = Gauge("railcast_live_lag_seconds", "Newest poll instant minus the newest decision",
                         registry=r)
        self.open_groups = Gauge("railcast_live_open_groups", "Trains held by the detector", registry=r)
        self.rows_held = Gauge("railcast_live_rows_held", "Board rows held for features", registry=r)
        self.version = Gauge("railcast_live_champion_version", "Champion version scoring", registry=r)
        self.reloads = Counter("railcast_live_model_reloads_total", "Champion reloads by outcome",
                               ("outcome",), registry=r)
        self._seen: Counts = Counts()
        self._server: Any = None

    def model_changed(self, outcome: str, loaded: Any) -> None:
        self.reloads.labels(outcome).inc()
        if outcome == "loaded" and loaded is not None and loaded.version.isdigit():
            self.version.set(int(loaded.version))

    def observe(self, scorer: Any, published: pa.Table, seconds: float, read_any: bool) -> None:
        """Counts since the last call, the step's latency when it published, and the state's size."""
        for name, metric in (("polls", self.polls), ("withdrawn", self.withdrawn),
                             ("unscored", self.unscored)):
            metric.inc(scorer.counts[name] - self._seen[name])
            self._seen[name] = scorer.counts[name]
        live = published.filter(pa.compute.equal(published[s.LIVE_STATUS], "live"))
        for (role, version), n in Counts(zip(live[s.ROLE].to_pylist(), live[s.MODEL_VERSION].to_pylist(),
                                             strict=True)).items():
            self.predictions.labels(role, version).inc(n)
        if published.num_rows and read_any:
            self.publish.observe(seconds)
        clock, decided = scorer.detector.clock, scorer.last_decided
        if clock is not None:
            self.clock.set(clock.timestamp())
        if decided is not None:
            self.last_decided.set(decided.timestamp())
            self.lag.set((clock - decided).total_seconds())
        self.open_groups.set(len(scorer.detector.groups))
        self.rows_held.set(scorer.rows.size)

    def serve(self, host: str, port: int) -> None:
        """Export on http://host:port/metrics in a daemon thread."""
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
