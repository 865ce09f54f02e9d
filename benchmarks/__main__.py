"""Run every benchmarks/bench_*.py `run()` and write one JSON result file with the machine's description.

Figures are ratios against a baseline measured in the same run where a benchmark has one: the
machine is shared and noisy, so absolute seconds vary between runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> dict:
    """What ran the benchmarks."""
    mem_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": mem_gib, "python": sys.version.split()[0],
            "platform": platform.platform(), "load_avg": os.getloadavg()}


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(discover())})")
    parser.add_argument("--out", default=str(HERE / "results"), help="directory for the JSON result")
    args = parser.parse_args(argv)
    names = [n if n.startswith("bench_") else f"bench_{n}" for n in args.names] or discover()
    results: dict = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine(),
                     "benchmarks": {}}
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            figures = importlib.import_module(f"benchmarks.{name}").run()
            status = "ok"
        except Exception:  # a broken benchmark is reported, the others still run
            figures, status = {"error": traceback.format_exc(limit=5)}, "error"
            failed += 1
        results["benchmarks"][name] = {"status": status, "wall_s": round(time.perf_counter() - t0, 2),
                                       "figures": figures}
        print(json.dumps(figures, indent=2, default=str), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out / f"bench-{stamp}.json"
    target.write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "latest.json").write_text(target.read_text())
    print(f"results written to {target}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
