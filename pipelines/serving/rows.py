"""The body of POST /v1/predict checked against the served model's own feature list, field by field.

`{"rows": [{feature: value, ...}, ...]}`: every feature the booster was trained on, numbers (or null) for
the numeric ones, text (or null) for the categorical ones; nothing else. An error names the row and
field (`rows[3].delay_at_pred`) and says what was expected.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from pipelines.serving.champion import Loaded

MAX_TEXT = 200  # characters of a categorical value


class BadInput(ValueError):
    """A request the API refuses: `status` (400, 413, 422) and the field at fault."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def parse(body: bytes, max_rows: int) -> list[Any]:
    """The `rows` list of a JSON body, or BadInput."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"the body is not JSON: {exc}", status=400) from exc
    if not isinstance(payload, dict) or "rows" not in payload:
        raise BadInput('expected an object {"rows": [{feature: value, ...}, ...]}', "rows")
    rows = payload["rows"]
    if not isinstance(rows, list) or not rows:
        raise BadInput("rows must be a non-empty list of objects", "rows")
    if len(rows) > max_rows:
        raise BadInput(f"{len(rows)} rows: at most {max_rows} per request (serve.max_rows)", "rows", 413)
    return rows


def _value(name: str, value: Any, text: bool, where: str) -> Any:
    if value is None:
        return None
    if text:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise BadInput(f"{where}: expected text of at most {MAX_TEXT} characters, or null", where)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadInput(f"{where}: expected a finite number, or null (got {json.dumps(value)[:40]})", where)
    return float(value)


def frame(rows: list[Any], loaded: Loaded) -> pd.DataFrame:
    """The rows as a feature frame in the model's column order, or BadInput naming the first bad field."""
    wanted = set(loaded.features)
    columns: dict[str, list] = {name: [] for name in loaded.features}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadInput(f"rows[{i}]: expected an object of features", f"rows[{i}]")
        unknown = sorted(set(row) - wanted)
        if unknown:
            raise BadInput(f"rows[{i}].{unknown[0]}: not a feature of model version {loaded.version}",
                           f"rows[{i}].{unknown[0]}")
        for name in loaded.features:
            where = f"rows[{i}].{name}"
            if name not in row:
                raise BadInput(f"{where}: missing (send null for a value you do not know)", where)
            columns[name].append(_value(name, row[name], name in loaded.categorical, where))
    out = pd.DataFrame(columns)
    for name in loaded.features:  # all-null columns must keep their kind for the model's encoding
        if name not in loaded.categorical:
            out[name] = out[name].astype("float64")
    return out
