"""Simulator bulk path: seconds per simulated day of the default network, records per second, bytes per day,
and whether time grows linearly with the number of days (1, 2, 4), through the `simulate` stage.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time

from pipelines.config import load_params
from pipelines.sources.simulate import run as simulate
from pipelines.sources.simulator.source import network_source
from pipelines.storage import Layout
from pipelines.timeutil import local_midnight_utc

TARGET_S_PER_DAY = 5.0


def _timed(days: int) -> dict:
    """Simulate `days` days into a fresh data root (truth generated inside the timing, no cache)."""
    params = load_params()
    first = params.simulation.start_date
    start, end = local_midnight_utc(first), local_midnight_utc(first + dt.timedelta(days=days))
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout(params, tmp)
        t0, c0 = time.perf_counter(), time.process_time()
        result = simulate(params, layout, start, end, source=network_source(params))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = {
            name: sum(p.stat().st_size for p in layout.dataset(name).glob("*.parquet"))
            for name in ("truth", "snapshots", "polls")
        }
    return {
        "days": days,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "snapshots": result["snapshots"],
        "polls": result["polls"],
        "bytes": size,
    }


def run() -> dict:
    """The figures (single measurements on a shared machine: treat them as +-20%)."""
    runs = [_timed(d) for d in (1, 2, 4)]
    one = runs[0]
    per_day = {f"{r['days']}d": round(r["seconds"] / r["days"], 2) for r in runs}
    return {
        "seconds_per_day": one["seconds"],
        # CPU time is less disturbed than wall time when other jobs share the 2 cores
        "cpu_seconds_per_day": one["cpu_seconds"],
        "target_seconds_per_day": TARGET_S_PER_DAY,
        "meets_target": one["seconds"] < TARGET_S_PER_DAY,
        "snapshot_records_per_s": round(one["snapshots"] / one["seconds"]),
        "snapshot_records_per_day": one["snapshots"],
        "polls_per_day": one["polls"],
        "bytes_per_day": {k: v // one["days"] for k, v in one["bytes"].items()},
        "seconds_per_day_by_run_length": per_day,
        # 1.0 is perfectly linear; above 1 means longer runs cost more per day
        "linearity_4d_vs_1d": round(runs[2]["seconds"] / (4 * one["seconds"]), 2),
        "cpu_seconds_per_day_by_run_length": {
            f"{r['days']}d": round(r["cpu_seconds"] / r["days"], 2) for r in runs
        },
        "cpu_linearity_4d_vs_1d": round(runs[2]["cpu_seconds"] / (4 * one["cpu_seconds"]), 2),
        "load_avg_1min": os.getloadavg()[0],
        "runs": runs,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
