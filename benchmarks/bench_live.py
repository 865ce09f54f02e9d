"""The live scorer over two simulated days of the default network (64 boards polled every 3 minutes, 5%
failed polls): decision-to-publish latency and memory, day 1 against day 2.

The archive holds the attempts a poller would have written: the simulator's own JSON documents for each
board at each scheduled poll instant (`route_request`, the code behind its HTTP server, called directly:
HTTP would only add 2 x 30k requests of setup), two writer processes on the two cores. The scorer then
replays them in poll order, one attempt at a time with a `step` after each, as `railcast live` does when
attempts arrive one by one. Latency: from handing the scorer the attempt that made departures
decidable to their rows written to the stream (a real run adds the wait for the next archive read,
`live.interval_s`). Memory: the process's resident set at the same Berlin times on both days.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

from pipelines.config import load_params
from pipelines.live.scorer import LiveScorer
from pipelines.sources.dbf.archive import ArchiveWriter, make_line, read_raw_hour
from pipelines.timeutil import hours_between, local_midnight_utc

DAYS = 2
CHECKPOINTS_H = (6, 12, 18)      # Berlin hours of each day at which memory is read


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def write_archive(args: tuple) -> int:
    """One writer process: the attempts of `stations` in [start, end) into archive `raw`."""
    raw, writer_id, stations, start, end = args
    from pipelines.sources.simulator.bulk import poll_schedule
    from pipelines.sources.simulator.clock import fixed_clock
    from pipelines.sources.simulator.server import route_request
    from pipelines.sources.simulator.source import network_source

    params = load_params()
    source = network_source(params)
    sim = params.simulation
    plan = poll_schedule(stations, start, end, sim.poll_interval_min, sim.seed, sim.faults)
    clock, writer = fixed_clock(start), ArchiveWriter(Path(raw), writer_id)
    for station, poll_s, failed in plan.sort_values("poll_s").itertuples(index=False):
        at = dt.datetime.fromtimestamp(int(poll_s), dt.UTC)
        url = f"http://127.0.0.1:8092/{station}.json"
        if failed:
            writer.append(make_line(station, url, at, None, None, None, "timed out"), at)
            continue
        clock.set(at)
        status, doc = route_request(source, clock, f"/{station}.json")
        writer.append(make_line(station, url, at, status, None, json.dumps(doc).encode(), None), at)
    return len(plan)


def registry(home: Path):
    """A layout with one promoted version trained on synthetic features (the figures do not depend on it)."""
    from benchmarks.bench_train import write_days
    from pipelines.modeling import train
    from pipelines.registry import promote
    from pipelines.serving.champion import load
    from pipelines.storage import Layout

    params = load_params(overrides={"train.num_boost_round": 200, "train.window_days": 4,
                                    "train.min_days": 3, "train.holdout_days": 1,
                                    "lineage.version_inputs": False})
    layout = Layout(params, home)
    as_of = write_days(params, layout, dt.date(2025, 8, 1), 5, 3000)
    version = train.run(params, layout, as_of, {"kind": "bootstrap"})["version"]
    promote.run(params, layout, {"version": version, "champion_version": None, "passed": True,
                                 "reason": "bench", "as_of": as_of.isoformat(), "dry_run": False})
    return params, layout, load(layout, version)


def run() -> dict:
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
            return measure(Path(tmp))
    finally:
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def measure(tmp: Path) -> dict:
    params, layout, champion = registry(tmp / "home")
    from pipelines.sources.simulator.source import network_source

    stations = sorted(network_source(params).names)
    first = params.simulation.start_date
    start, end = local_midnight_utc(first), local_midnight_utc(first + dt.timedelta(days=DAYS))
    raw = layout.dataset("raw")
    t0 = time.perf_counter()
    jobs = [(str(raw), f"w{i}", stations[i::2], start, end) for i in range(2)]
    with get_context("spawn").Pool(2) as pool:
        attempts = sum(pool.map(write_archive, jobs))
    generate_s = time.perf_counter() - t0
    scorer = LiveScorer(params, layout, lambda: (champion, None))
    latencies, memory, published = [], {}, 0
    marks = [local_midnight_utc(first + dt.timedelta(days=d)) + dt.timedelta(hours=h)
             for d in range(DAYS) for h in CHECKPOINTS_H]
    t0 = time.perf_counter()
    for hour in hours_between(start, end):
        lines = sorted(read_raw_hour(raw, hour).lines, key=lambda x: (x["poll_time"], x["station"]))
        for line in lines:
            begin = time.perf_counter()
            scorer.add(line)
            table = scorer.step(dt.datetime.now(dt.UTC))
            if table.num_rows:
                latencies.append(time.perf_counter() - begin)
                published += table.num_rows
            while marks and scorer.detector.clock >= marks[0]:
                held = scorer.rows.size
                memory[marks.pop(0).isoformat()] = {"rss_mib": rss_mib(), "rows_held": held,
                                                    "groups_held": len(scorer.detector.groups)}
    replay_s = time.perf_counter() - t0
    ms = sorted(x * 1000 for x in latencies)
    days = list(memory.items())
    growth = {f"{h}h": round(days[i + len(CHECKPOINTS_H)][1]["rss_mib"] - days[i][1]["rss_mib"], 1)
              for i, h in enumerate(CHECKPOINTS_H)}
    return {
        "stations": len(stations), "days": DAYS, "attempts": attempts, "generate_s": round(generate_s, 1),
        "replay_s": round(replay_s, 1), "attempts_per_s": round(attempts / replay_s, 1),
        "rows_published": published, "decision_batches": len(ms),
        "decision_to_publish_ms": {"p50": round(statistics.median(ms), 1),
                                   "p99": round(ms[int(0.99 * (len(ms) - 1))], 1), "max": round(ms[-1], 1)},
        "memory": dict(days), "rss_growth_day2_minus_day1_mib": growth,
        "goal": "p99 < 1 s on 2 cores; memory does not grow from day to day",
        "note": "a real run adds the wait for the next archive read (live.interval_s)",
    }
