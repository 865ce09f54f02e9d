"""The alias history: every recorded move and refusal, and who was champion at an instant.

`score`, `monitor`, the loop and the demo all ask "who was champion at t" here, so a day is scored and
monitored with the same model. The history is an append-only JSON-lines log beside the MLflow store.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from pipelines.registry import tracking
from pipelines.storage import Layout
from pipelines.timeutil import parse_instant

AUDIT_FILE = "alias_audit.jsonl"


def read_audit(layout: Layout) -> list[dict]:
    """Every recorded alias move and refusal, oldest first."""
    path = layout.mlflow_dir / AUDIT_FILE
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []


def append_audit(layout: Layout, entry: dict) -> dict:
    """Append one JSON line and fsync it: the audit log is never rewritten."""
    path = layout.mlflow_dir / AUDIT_FILE
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return entry


def champion_moves(layout: Layout, instant: dt.datetime | None = None) -> list[dict]:
    """Moves of the champion alias, oldest first; with `instant`, only those at or before it."""
    return [e for e in read_audit(layout) if e["action"] == "move" and e["alias"] == tracking.CHAMPION
            and (instant is None or parse_instant(e["when"]) <= instant)]


def champions_at(layout: Layout, instant: dt.datetime | None = None) -> tuple[str | None, str | None]:
    """(champion, first champion ever promoted) at `instant` (default: after every recorded move)."""
    moves = champion_moves(layout, instant)
    promoted = [e["to"] for e in moves if e["to"] is not None]
    current = moves[-1]["to"] if moves else None
    return (str(current) if current else None), (str(promoted[0]) if promoted else None)


def champion_at(layout: Layout, instant: dt.datetime | None = None) -> str | None:
    """The champion at `instant` (default: the current one) per the history."""
    return champions_at(layout, instant)[0]


def first_champion(layout: Layout) -> str | None:
    """The first version ever promoted to champion (the score stage's shadow model)."""
    return champions_at(layout)[1]
