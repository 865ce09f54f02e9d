"""The sections of params.yaml as frozen, typed dataclasses (one per top-level key)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pipelines.config.services import Alerts, Lineage, Live, Serve


@dataclass(frozen=True)
class Paths:
    """Dataset locations, relative to the data root (RAILCAST_HOME, or the DVC workspace `data/`)."""

    truth: str
    raw: str
    snapshots: str
    polls: str
    quarantine: str
    ledger: str
    departures: str
    features: str
    labels: str
    models: str
    metrics: str
    reports: str
    predictions: str
    live: str


@dataclass(frozen=True)
class Scenario:
    """One staged regime change of the simulator (or none, for `stationary`)."""

    kind: str
    start_day: int | None = None
    end_day: int | None = None
    scope: tuple[str, ...] = ()
    size: float = 0.0


@dataclass(frozen=True)
class FaultProfile:
    """Poll imperfections applied by the simulator's bulk path and the fault-injecting server."""

    failed_poll_share: float
    jitter_s: float


@dataclass(frozen=True)
class Simulation:
    """The simulator's calendar, seed, scenario and poll settings."""

    seed: int
    start_date: dt.date          # the first simulated service date (Europe/Berlin)
    days: int
    scenario: str
    poll_interval_min: int
    board_lookahead_min: int
    faults: FaultProfile
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    corridors: tuple[str, ...] = ()   # only these corridors' lines and stations (empty: the whole network)


@dataclass(frozen=True)
class Ingest:
    base_url: str
    stations: tuple[str, ...]
    poll_interval_min: float
    rate_limit_per_min: float
    timeout_s: float
    retries: int
    backoff_s: float
    clock: str
    max_body_bytes: int
    max_depth: int
    allowed_hosts: tuple[str, ...]
    min_free_mb: float


@dataclass(frozen=True)
class Validation:
    max_failing_share: float
    min_rows: int
    delay_min: int
    delay_max: int


@dataclass(frozen=True)
class Detection:
    gap_min: float
    grace_min: float
    close_after_hours: float


@dataclass(frozen=True)
class Features:
    trend_polls: int
    recent_window_min: int
    label_max_wait_hours: float
    growth_min_per_hour: float
    timetable_days: int


@dataclass(frozen=True)
class Train:
    window_days: int
    min_days: int
    holdout_days: int
    validation_share: float
    seed: int
    num_boost_round: int
    early_stopping_rounds: int
    lgb_params: dict[str, Any]
    post_event_weight: float = 1.0   # a drift retrain's rows on/after the event's start count this much


@dataclass(frozen=True)
class Gate:
    min_relative_gain: float
    min_gain_over_persistence: float
    max_class_degradation: float
    bootstrap_samples: int
    bootstrap_seed: int
    champion_model: str
    min_gain_over_board: float
    segments: tuple[str, ...]
    max_segment_degradation: float
    min_segment_rows: int
    lower_bars_to_champion: bool
    require_approval: bool
    approval_timeout_h: float


@dataclass(frozen=True)
class Monitor:
    window_days: int
    sample_rows: int
    sample_seed: int
    drift_share_threshold: float
    num_method: str
    cat_method: str
    num_threshold: float
    cat_threshold: float
    null_rate_threshold: float
    unseen_share_threshold: float
    segment_threshold: float
    segment_min_rows: int
    min_labeled_rows: int
    persistence_k: int
    persistence_n: int
    incident_quiet_windows: int
    cooldown_days: int
    min_post_event_days: int
    skill_ratio_threshold: float
    exclude_columns: tuple[str, ...]
    estimated_mae_ratio_threshold: float
    max_retrain_attempts: int
    retry_after_days: int
    settle_post_event_days: int
    warm_up: bool
    cancelled_share_rise: float
    cancelled_baseline_days: int
    reference_days: int


@dataclass(frozen=True)
class Params:
    paths: Paths
    simulation: Simulation
    ingest: Ingest
    validation: Validation
    detection: Detection
    features: Features
    train: Train
    gate: Gate
    monitor: Monitor
    alerts: Alerts
    lineage: Lineage = field(default_factory=Lineage)
    serve: Serve = field(default_factory=Serve)
    live: Live = field(default_factory=Live)
