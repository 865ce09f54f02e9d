"""`railcast stack up|status|down|password|init` (`make stack`): Railcast's production deployment on one
machine that runs PostgreSQL and Redis: the S3 store, the MLflow server and Airflow as separate components
(API server, scheduler, DAG processor, triggerer, N Celery workers), all on 127.0.0.1 by default.

`up` starts them in sessions of their own, waits until each answers, records them in
`$RAILCAST_HOME/stack/NAME/stack.json` and returns; run again, it starts only what has died since.
`down` stops each with everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipelines.config import Params
from pipelines.ops import stack as plan
from pipelines.ops.airflow_settings import ADMIN
from pipelines.ops.process_tree import Detached, Service, family, start_time, stop_tree
from pipelines.ops.stack_services import answers, ensure_databases, services
from pipelines.storage import Layout


def up(stack: plan.Stack) -> dict:
    """Start what is not running (all of it, or what died since), wait until each answers, record it;
    on a failure stop what this call started."""
    record = read_record(stack) or {}
    running = {s["name"]: s for s in record.get("services", []) if alive(s)}
    for dead in [s for s in record.get("services", []) if s["name"] not in running]:
        # what a dead service left in its process group (its own children) must not run on beside
        # its replacement
        stop_tree(Detached(dead["pid"], dead["start"]), timeout_s=10, grace_s=5)
    found = stack.secrets()
    wanted = services(stack, found)
    missing = [(name, start) for name, start in wanted if name not in running]
    if not missing:
        print(f"already up (see `railcast stack status --name {stack.name}`)")
        return record
    ensure_databases(stack)
    print(f"starting {', '.join(n for n, _ in missing)}; logs in {stack.folder / 'logs'}", flush=True)

    def init() -> None:  # Airflow's database and admin, on a first start (it is idempotent)
        admin = {plan.ADMIN_PASSWORD_ENV: found["admin_password"]}
        subprocess.run([sys.executable, "-m", "pipelines", "stack", "init"], check=True,
                       stdout=subprocess.DEVNULL, env={**stack.airflow_env(found), **admin})

    first = not any(name.startswith("airflow") for name in running)
    started = start_waves(missing, init if first else None)
    running.update({s.name: {"name": s.name, "pid": s.proc.pid, "start": start_time(s.proc.pid),
                             "log": str(s.log_file)} for s in started})
    record = {"name": stack.name, "urls": stack.urls(), "user": ADMIN,
              "secrets_file": str(stack.secrets_path),
              "services": [running[name] for name, _ in wanted if name in running]}
    stack.folder.mkdir(parents=True, exist_ok=True)
    (stack.folder / "stack.json").write_text(json.dumps(record, indent=2))
    return record


def start_waves(missing: list[tuple[str, Callable[[], Service]]],
                init: Callable[[], None] | None) -> list[Service]:
    """Start the stores (with Airflow's `init`, if given) together, then every Airflow component
    together; each start returns once its service answers. On any failure (or Ctrl-C) stop what
    started, then raise."""
    started: list[Service] = []
    waves = [[start for name, start in missing if not name.startswith("airflow")],
             [start for name, start in missing if name.startswith("airflow")]]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:  # leaving it waits for every start in flight
            for n, wave in enumerate(waves):
                jobs = [pool.submit(lambda start=start: started.append(start())) for start in wave]
                jobs += [pool.submit(init)] if init is not None and n == 0 else []
                errors = [job.exception() for job in jobs]
                if any(errors):
                    raise next(e for e in errors if e)
    except BaseException:
        for service in reversed(started):
            service.stop()
        raise
    return started


def read_record(stack: plan.Stack) -> dict | None:
    path = stack.folder / "stack.json"
    return json.loads(path.read_text()) if path.exists() else None


def alive(service: dict) -> bool:
    return Detached(service["pid"], service["start"]).alive()


def status(stack: plan.Stack) -> dict:
    """Each recorded service: running or not; the URLs answering or not."""
    record = read_record(stack) or {"services": [], "urls": stack.urls()}
    health = {"airflow": "/api/v2/monitor/health", "mlflow": "/health", "s3": ""}
    reachable = {}
    for name, url in record["urls"].items():
        try:
            reachable[name] = answers(url + health[name])
        except OSError as exc:  # the S3 gateway answers 403 to an unsigned request: it is up
            reachable[name] = getattr(exc, "code", None) == 403
    return {"services": {s["name"]: "running" if alive(s) else "stopped" for s in record["services"]},
            "answering": reachable}


def down(stack: plan.Stack) -> dict:
    """Stop every recorded service and what it started (Airflow first); leaves no process behind."""
    record = read_record(stack)
    if record is None:
        return {"stopped": [], "note": "nothing recorded: the stack was not started here"}
    def stop(service: dict) -> tuple[str, set]:
        proc = Detached(service["pid"], service["start"])
        if not proc.alive():
            return "", set()
        members = family(proc.pid, set())
        stop_tree(proc, timeout_s=30, grace_s=10)
        return service["name"], {m for m in members if Detached(*m).alive()}

    # Airflow's components together (each shuts down in its own time), then MLflow, then the store
    layers = [[s for s in record["services"] if s["name"].startswith("airflow")],
              [s for s in record["services"] if s["name"] == "mlflow-server"],
              [s for s in record["services"] if s["name"] == "s3-store"]]
    stopped, left = [], set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for layer in layers:
            for name, remaining in pool.map(stop, layer):
                stopped += [name] if name else []
                left |= remaining
    (stack.folder / "stack.json").unlink()
    return {"stopped": stopped, "left_running": sorted(pid for pid, _ in left)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast stack`."""
    parser.add_argument("action", choices=("up", "status", "down", "password", "init", "env-file"),
                        help="up: start and wait until healthy; status; down: stop everything; "
                             "password: print the admin password; init: migrate + admin (compose); "
                             "env-file PATH: write docker/.env with fresh secrets")
    parser.add_argument("path", nargs="?", help="for env-file: where to write (e.g. docker/.env)")
    parser.add_argument("--name", default="railcast", help="deployment name, prefix of its databases")
    parser.add_argument("--host", default="127.0.0.1", help="address every listener binds to")
    parser.add_argument("--airflow-port", type=int, default=8080)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--s3-port", type=int, default=8333)
    parser.add_argument("--health-port", type=int, default=8974, help="the scheduler's health check")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    parser.add_argument("--concurrency", type=int, default=2, help="task slots per worker (default 2)")


def main(args: argparse.Namespace, params: Params) -> dict | None:
    if args.action == "init":
        return plan.init()
    if args.action == "env-file":
        if not args.path:
            raise SystemExit("railcast stack env-file PATH: say where to write it, e.g. docker/.env")
        return {"written": str(plan.write_env_file(Path(args.path))), "mode": "0600"}
    stack = plan.Stack(args.name, Layout(params, args.home),
                       os.environ.get(plan.POSTGRES_ENV, plan.DEFAULT_POSTGRES),
                       os.environ.get(plan.REDIS_ENV, plan.DEFAULT_REDIS), args.host, args.airflow_port,
                       args.mlflow_port, args.s3_port, args.health_port, args.workers,
                       args.concurrency)
    if args.action == "password":
        print(stack.secrets()["admin_password"])
        return None
    result = {"up": up, "status": status, "down": down}[args.action](stack)
    if args.action == "up":
        print(f"Airflow UI: {result['urls']['airflow']}  user: {ADMIN}  password: "
              f"`railcast stack password --name {stack.name}` (kept in {result['secrets_file']})\n"
              f"MLflow UI: {result['urls']['mlflow']}   S3 store: {result['urls']['s3']}\n"
              f"stop it with `railcast stack down --name {stack.name}`", flush=True)
    return result
