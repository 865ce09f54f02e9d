"""The sections of params.yaml for what runs around the pipeline: alerts, lineage, the API, live scoring."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Alerts:
    recipients: tuple[str, ...]
    smtp_conn_id: str
    sender: str
    retry_base_s: float = 60.0
    retry_max_s: float = 3600.0
    max_attempts: int = 24


@dataclass(frozen=True)
class Lineage:
    """What is kept to rebuild a registered version: its training inputs, versioned by DVC."""

    version_inputs: bool = True


@dataclass(frozen=True)
class Serve:
    """`railcast serve`: the prediction API."""

    host: str = "127.0.0.1"
    port: int = 8000
    reload_seconds: float = 30.0   # how often the champion alias is checked (hot reload)
    max_rows: int = 1000           # rows per POST /v1/predict
    max_body_bytes: int = 2_000_000


@dataclass(frozen=True)
class Live:
    """`railcast live`: the live scorer."""

    interval_s: float = 0.5        # how often the archive is read and decisions published
    metrics_port: int = 8001       # its Prometheus metrics, on serve.host; 0: none
