"""params.yaml parsed once into frozen, typed objects that refuse unknown or missing keys."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"


class ConfigError(ValueError):
    """params.yaml does not match the expected shape."""


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
    monitoring: str


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
    seed: int
    start_date: str
    days: int
    scenario: str
    poll_interval_min: int
    board_lookahead_min: int
    faults: FaultProfile
    scenarios: dict[str, Scenario] = field(default_factory=dict)


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


@dataclass(frozen=True)
class Gate:
    min_relative_gain: float
    min_gain_over_persistence: float
    max_class_degradation: float
    bootstrap_samples: int
    bootstrap_seed: int
    champion_model: str


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
    cooldown_days: int
    min_post_event_days: int
    skill_ratio_threshold: float
    exclude_columns: tuple[str, ...]


@dataclass(frozen=True)
class Alerts:
    recipients: tuple[str, ...]
    smtp_conn_id: str
    sender: str


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


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    return value


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
    values = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name not in data:
            no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if no_default:
                raise ConfigError(f"{key}: missing in params.yaml")
            continue
        values[name] = _coerce(hints[name], data[name], key)
    return cls(**values)


def load_params(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Params:
    """Read params.yaml (default: the project's) into a Params, applying dotted-key overrides."""
    source = Path(path) if path else DEFAULT_PARAMS
    data = yaml.safe_load(source.read_text())
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override {dotted}: {part} is not a section")
            node = node[part]
        if leaf not in node:
            raise ConfigError(f"override {dotted}: unknown key")
        node[leaf] = value
    return _build(Params, data, "")


def scenario(params: Params, name: str | None = None) -> Scenario:
    """The named scenario (default: simulation.scenario), with a clear error for unknown names."""
    key = name or params.simulation.scenario
    try:
        return params.simulation.scenarios[key]
    except KeyError:
        known = ", ".join(sorted(params.simulation.scenarios))
        raise ConfigError(f"unknown scenario {key!r}; params.yaml defines: {known}") from None
