"""Parse params.yaml into `Params`: refuse unknown or missing keys, coerce numbers and dates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from pipelines.config.sections import Params, Scenario

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"


class ConfigError(ValueError):
    """params.yaml does not match the expected shape."""


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
    if tp is dt.date:
        return _date(value, where)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    return value


def _date(value: Any, where: str) -> dt.date:
    """A date from YAML (a date already, or ISO text)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


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


def read_params_file(source: Path) -> Any:
    """The YAML of a params file: the one place params.yaml is read (tests count the calls)."""
    return yaml.safe_load(source.read_text())


def load_params(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Params:
    """Read params.yaml (default: the project's) into a Params, applying dotted-key overrides."""
    data = read_params_file(Path(path) if path else DEFAULT_PARAMS)
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
