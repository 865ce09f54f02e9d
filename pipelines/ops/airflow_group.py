"""The embedded Airflow: the components `airflow standalone` runs, under one leader, minus log servers.

`airflow standalone` starts the scheduler and the triggerer with their HTTP log servers (ports 8793 and
8794), which listen on every interface with no setting to change that. On one machine every component
writes and reads the same log folder, so nothing needs them: after `airflow db migrate` this leader
runs the scheduler and the triggerer with `--skip-serve-logs`, the DAG processor and the API server
(on AIRFLOW__API__HOST), all in the leader's process group. It waits for SIGINT/SIGTERM (the group's
stop) and returns the first non-zero exit of a component that ended on its own, so a crash is not
hidden behind a live API server.

Run as `python -m pipelines.ops.airflow_group` with the environment of `airflow_settings`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

COMPONENTS = (("scheduler", "--skip-serve-logs"), ("dag-processor",), ("api-server",),
              ("triggerer", "--skip-serve-logs"))


def run(poll_s: float = 0.5) -> int:
    """Migrate the metadata DB, start every component, wait until stopped or until one ends; returns
    the exit code."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    airflow = str(Path(sys.executable).parent / "airflow")
    migrated = subprocess.run([airflow, "db", "migrate"], stdout=subprocess.DEVNULL, check=False)
    if migrated.returncode or stop.is_set():
        return migrated.returncode or 0
    procs = [subprocess.Popen([airflow, *argv]) for argv in COMPONENTS]
    ended = None
    while not stop.wait(poll_s):
        ended = next((p for p in procs if p.poll() is not None), None)
        if ended is not None:
            print(f"railcast airflow: `airflow {' '.join(ended.args[1:])}` exited with code "
                  f"{ended.returncode}; stopping the others", file=sys.stderr, flush=True)
            break
    if ended is None:   # a stop of the group reached every component: give them time to finish
        _wait_all(procs, 5)
    for proc in procs:  # a stop of the leader alone, or a crash: the others get SIGTERM
        if proc.poll() is None:
            proc.terminate()
    if not _wait_all(procs, 60):
        for proc in procs:
            proc.kill()
        _wait_all(procs, 10)
    return (ended.returncode or 1) if ended is not None else 0


def _wait_all(procs: list[subprocess.Popen], timeout_s: float) -> bool:
    """True once every process has exited, False if some still run after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            return False
    return True


if __name__ == "__main__":
    sys.exit(run())
