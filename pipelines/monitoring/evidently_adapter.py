"""The one Evidently adapter: a drift report with the test pinned per column, results as plain data.

Evidently picks its default test by row count (KS / chi-square up to 1000 rows, Wasserstein / Jensen-Shannon
above), so the same data could flip between tests as a window grows: every column gets an explicit method
and threshold here. Columns Evidently cannot test (empty after dropping NaN on either side) never reach it;
the caller reports them itself.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.legacy.calculations.stattests import get_stattest
from evidently.legacy.core import ColumnType
from evidently.metrics import DriftedColumnsCount, ValueDrift

from pipelines.storage import atomic_path, to_path

# Evidently stamps every widget with a fresh uuid and a random variable name: renumbered for stable bytes.
_RANDOM_IDS = re.compile(r"metric_[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TEST_NAME = re.compile(r"^Value Drift for column (?P<column>.+)$")
# The report's data block: one `var <dashboard id> = <JSON>;` line each, inside a <script> element.
_DATA_LINE = re.compile(r"^(\s*var (?:additional_graphs_)?metric_[0-9a-f]{32} = )(.*);$", re.M)
# In JSON, <, > and & occur only inside strings: their \u escapes are the same values, and no board
# string (a destination, a line, a reason) can close the <script> element or open another tag.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _dataset(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> Dataset:
    """An Evidently dataset with numbers as float and categories as text (NaN kept as missing)."""
    data = pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in numeric})
    for col in categorical:
        data[col] = frame[col].astype("object").where(frame[col].notna(), None).map(
            lambda v: v if v is None else str(v))
    definition = DataDefinition(numerical_columns=list(numeric), categorical_columns=list(categorical))
    return Dataset.from_pandas(data, data_definition=definition)


def build_report(reference: pd.DataFrame, current: pd.DataFrame, methods: dict[str, str],
                 thresholds: dict[str, float], categorical: set[str]) -> object:
    """Run Evidently's drift metrics on the columns of `methods`, each with its own method and threshold."""
    columns = sorted(methods)
    num = [c for c in columns if c not in categorical]
    cat = [c for c in columns if c in categorical]
    # The count plus one ValueDrift per column: the preset's extra drift table recomputes every test and
    # doubles the cost for the same distribution plots.
    count = DriftedColumnsCount(columns=columns, per_column_method=dict(methods),
                                per_column_threshold=dict(thresholds))
    drifts = [ValueDrift(column=c, method=methods[c], threshold=thresholds[c]) for c in columns]
    report = Report([count, *drifts], include_tests=True)
    return report.run(_dataset(current, num, cat), _dataset(reference, num, cat))


def column_results(snapshot: object) -> dict[str, dict]:
    """Per column: the method and threshold Evidently used, its score and whether its test failed (drift)."""
    data = snapshot.dict()
    out: dict[str, dict] = {}
    for metric in data["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith(":ValueDrift"):
            continue
        score = float(metric["value"])
        out[config["column"]] = {"method": config["method"], "threshold": float(config["threshold"]),
                                 "score": None if math.isnan(score) else score, "drifted": None}
    for test in data["tests"]:
        found = _TEST_NAME.match(str(test["name"]))
        if found and found["column"] in out:
            out[found["column"]]["drifted"] = str(getattr(test["status"], "value", test["status"])) == "FAIL"
    return out


def save_html(snapshot: object, target: Path) -> Path:
    """Save the self-contained HTML report atomically, random widget ids renumbered (same bytes on re-run)."""
    with atomic_path(target) as tmp:
        snapshot.save_html(str(tmp))
        text = tmp.read_text(encoding="utf-8")
        seen: dict[str, str] = {}

        def stable(match: re.Match) -> str:
            raw = match.group(0)
            if raw not in seen:
                n = len(seen)
                metric = raw.startswith("metric_")
                seen[raw] = f"metric_{n:032x}" if metric else f"00000000-0000-4000-8000-{n:012x}"
            return seen[raw]

        tmp.write_text(script_safe(_RANDOM_IDS.sub(stable, text)), encoding="utf-8")
    return to_path(target)


def script_safe(page: str) -> str:
    """`page` with the JSON of its data block escaped for a <script> element (Evidently embeds the
    values raw: a category value `</script><script>...` ran as script in the report and in the email)."""
    found = 0

    def escaped(match: re.Match) -> str:
        nonlocal found
        json.loads(match.group(2))   # the whole line is one JSON value: else this is not the data block
        found += 1
        return match.group(1) + match.group(2).translate(_SCRIPT_SAFE) + ";"

    page = _DATA_LINE.sub(escaped, page)
    if not found:
        raise ValueError("Evidently's report layout changed: its data block was not found to escape")
    return page


def stat_test(reference: pd.Series, current: pd.Series, method: str, threshold: float,
              categorical: bool = False) -> dict:
    """One Evidently stattest (the same implementation as the report's) on two series, NaN dropped."""
    kind = ColumnType.Categorical if categorical else ColumnType.Numerical
    ref = reference.dropna()
    cur = current.dropna()
    if not categorical:
        ref, cur = ref.astype("float64"), cur.astype("float64")
    test = get_stattest(ref, cur, kind, method)
    result = test(ref, cur, kind, threshold)
    score = float(result.drift_score)
    return {"method": method, "threshold": float(threshold), "score": None if math.isnan(score) else score,
            "drifted": bool(result.drifted)}
