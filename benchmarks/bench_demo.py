"""Wall time and budget of `make demo`: start-up, per simulated day, per retrain (all through Airflow).

By default a SHORTENED demo runs (RAILCAST_BENCH_DEMO_DAYS, default 11 days with the project's params,
so the bootstrap retrain is in it) and the 28-day total is EXTRAPOLATED from its start-up, per-day and
per-retrain figures; the output says so. RAILCAST_BENCH_DEMO_DAYS=28 measures the full demo instead.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from pipelines.config import load_params
from pipelines.demo import run as demo
from pipelines.storage import Layout

FULL_DAYS = 28
RETRAINS_IN_FULL_DEMO = 3  # bootstrap, the construction drift, one more (cooldown allows it): an estimate


def run() -> dict:
    """Run the (shortened) demo in a temporary RAILCAST_HOME; return its measured and extrapolated budget."""
    days = int(os.environ.get("RAILCAST_BENCH_DEMO_DAYS", "11"))
    params = load_params(os.environ.get("RAILCAST_PARAMS") or None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        layout = Layout(params, Path(tmp) / "home")
        t0 = time.perf_counter()
        summary = demo.run(params, layout, "construction", days=days)
        wall = time.perf_counter() - t0
    budget = summary["budget"]
    measured = {"days": days, "wall_s": round(wall, 1), **budget,
                "retrain_days": [d["day"] for d in summary["days"] if d["retrain_runs"]]}
    if days >= FULL_DAYS:
        return {"mode": "full demo, measured", **measured}
    if budget["per_retrain_mean_s"] is None:
        return {"mode": f"SHORTENED demo of {days} days: no retrain happened, nothing to extrapolate",
                **measured}
    per_retrain = budget["per_retrain_mean_s"]
    # days with a champion cost more (scoring, drift checks): extrapolate with them when there are some
    per_day = budget["per_day_with_champion_mean_s"] or budget["per_day_mean_s"]
    estimate = budget["startup_s"] + FULL_DAYS * per_day + RETRAINS_IN_FULL_DEMO * per_retrain
    return {"mode": f"SHORTENED demo of {days} days, 28-day total EXTRAPOLATED", **measured,
            "extrapolated_28_days_s": round(estimate, 0),
            "extrapolation": f"startup + 28 x per-day mean (days with a champion if any) + "
                             f"{RETRAINS_IN_FULL_DEMO} x per-retrain mean",
            "budget_s": 900, "within_budget": estimate < 900, "load_avg": os.getloadavg()}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
