"""Stop a process, its process group and every descendant, in bounded time, with no orphans left.

Why not just `killpg`: Airflow's task supervisor starts each task in a session of its own, so the group
misses running tasks; and the LocalExecutor's workers ignore SIGINT and outlive a scheduler that died
without sending them their poison pill (they are reparented to PID 1 and stay in the group forever).
So the family is tracked by process group *and* parentage, sampled repeatedly while it shuts down
(an orphan loses its parent link, not the membership we recorded), and each pid is remembered with its
start time so a recycled pid is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

Ident = tuple[int, int]  # (pid, start time in clock ticks): a pid is reused, the pair is not


def process_table() -> dict[int, tuple[int, int, str, int]]:
    """pid -> (ppid, pgid, state, start time) of every process, read from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # the process ended while we looked
            continue
        table[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), fields[0], int(fields[19]))
    return table


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`."""
    return sorted(pid for pid, (_, group, state, _) in process_table().items()
                  if group == pgid and state != "Z")


def children(pid: int) -> list[int]:
    """Live (non-zombie) direct children of `pid`."""
    return sorted(c for c, (ppid, _, state, _) in process_table().items() if ppid == pid and state != "Z")


def family(root: int, known: set[Ident]) -> set[Ident]:
    """Live processes of `root`'s group, descendants of `root` or of a known member, and known ones."""
    table = process_table()
    live = {pid: start for pid, (_, _, state, start) in table.items() if state != "Z"}
    found = {pid for pid, (_, group, _, _) in table.items() if group == root}
    found |= {pid for pid, start in known if live.get(pid) == start}
    grew = True
    while grew:  # close over parentage: tasks live in sessions of their own
        more = {pid for pid, (ppid, *_rest) in table.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return {(pid, live[pid]) for pid in found if pid in live}


def signal_all(members: set[Ident], sig: int) -> None:
    """Send `sig` to each member still alive with the same start time."""
    table = process_table()
    for pid, start in members:
        entry = table.get(pid)
        if entry and entry[3] == start and entry[2] != "Z":
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _watch(proc: subprocess.Popen, known: set[Ident], done: Callable[[set[Ident]], bool],
           timeout_s: float) -> set[Ident]:
    """Poll the family (reaping `proc`) until `done(live family)` or the timeout; returns it."""
    deadline = time.monotonic() + timeout_s
    while True:
        proc.poll()
        alive = family(proc.pid, known)
        known |= alive
        if done(alive) or time.monotonic() >= deadline:
            return alive
        time.sleep(0.25)


def stop_tree(proc: subprocess.Popen, timeout_s: float = 30, grace_s: float = 10) -> int:
    """SIGINT the group, then SIGTERM and SIGKILL every tracked process; returns `proc`'s exit code.

    Bounded: at most `timeout_s` for a clean shutdown, `grace_s` after SIGTERM, `grace_s` after SIGKILL.
    """
    known = family(proc.pid, set())
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    # Clean shutdown ends when the leader or all its direct children (standalone's components) have
    # exited: what is left then (idle LocalExecutor workers holding the components' output pipes, which
    # standalone waits on) would wait forever.
    def clean(live: set[Ident]) -> bool:
        return proc.returncode is not None or not live or not children(proc.pid)

    alive = _watch(proc, known, clean, timeout_s)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not alive:
            break
        signal_all(alive, sig)
        alive = _watch(proc, known, lambda live: not live, grace_s)
    try:
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:  # unkillable (D state): report rather than hang
        return -signal.SIGKILL


class Service:
    """A long-running child (a server) in a session of its own, its output in a log file; a context
    manager that always stops it and everything it started. Subclasses say how to start it (`start`,
    with `spawn` and `wait_ready`)."""

    name = "the service"
    proc: subprocess.Popen | None = None

    def spawn(self, argv: list[str], env: dict[str, str], log_file: Path) -> None:
        """Start `argv` with `env`, stdout and stderr appended to `log_file`."""
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = log_file
        with open(log_file, "ab") as log:  # the child holds its own copy of the descriptor
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, ready: Callable[[], object], timeout_s: float) -> None:
        """Poll `ready()` (truthy: up; OSError: not yet) until it is up; stop and raise after timeout_s or
        when the process exits first, naming the log."""
        deadline, error = time.monotonic() + timeout_s, None
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: see {self.log_file}")
                try:
                    if ready():
                        return
                except OSError as exc:  # urllib's URLError and pyarrow's errors are OSErrors
                    error = exc
                time.sleep(0.5)
            raise TimeoutError(f"{self.name} not ready in {timeout_s:.0f} s ({error}); see {self.log_file}")
        except BaseException:  # whatever went wrong (Ctrl-C too), nothing it started may outlive it
            self.stop()
            raise

    def stop(self) -> None:
        """Stop it and everything it started."""
        if self.proc is not None:
            stop_tree(self.proc, timeout_s=20, grace_s=5)
            self.proc = None

    def start(self) -> Service:
        raise NotImplementedError

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Detached:
    """A process we did not start in this interpreter (recorded by pid and start time), with the part of
    Popen's interface `stop_tree` uses: `railcast stack down` stops what `stack up` left running."""

    def __init__(self, pid: int, start: int) -> None:
        self.pid, self.start, self.returncode = pid, start, None

    def alive(self) -> bool:
        entry = process_table().get(self.pid)
        return bool(entry) and entry[3] == self.start and entry[2] != "Z"

    def poll(self) -> int | None:
        if self.returncode is None and not self.alive():
            self.returncode = 0  # not our child: its exit code is its parent's to read
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.1)
        return self.returncode


def start_time(pid: int) -> int:
    """The start time (clock ticks since boot) of a live process: with the pid, its identity."""
    return process_table()[pid][3]
