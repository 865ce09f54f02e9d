"""`railcast models` (versions, aliases, alias history), `railcast rollback` (restore `previous`) and
`railcast mlflow-ui` (the MLflow UI of the embedded store)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from urllib.parse import urlsplit, urlunsplit

from pipelines.config import Params
from pipelines.registry import history, ledger, promote, tracking
from pipelines.storage import Layout
from pipelines.timeutil import UTC


def registry_state(layout: Layout) -> dict:
    """Versions with their headline tags, the aliases and the audit history (aliases reconciled first)."""
    ledger.reconcile(layout)
    versions = [{"version": v["version"], "run_id": v["run_id"], "as_of": v["tags"].get("as_of"),
                 "trigger": v["tags"].get("trigger"), "gate_passed": v["tags"].get("gate_passed"),
                 "sha256": v["tags"].get(tracking.SHA_TAG, "")[:12]}
                for v in tracking.list_versions(layout)]
    return {"model": tracking.MODEL_NAME, "aliases": tracking.aliases(layout), "versions": versions,
            "history": history.read_audit(layout)}


def format_state(state: dict) -> str:
    """Plain-text view of registry_state for a terminal."""
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted(state["aliases"].items()):
        by_version.setdefault(version, []).append(alias)
    row = "{:>7}  {:<28} {:<26} {:<10} {:<6} {}"
    lines = [state["model"], row.format("version", "aliases", "as_of", "trigger", "gate", "sha256")]
    for v in state["versions"]:
        lines.append(row.format(v["version"], ",".join(by_version.get(v["version"], [])), str(v["as_of"]),
                                str(v["trigger"]), str(v["gate_passed"]), v["sha256"]))
    lines.append("history (oldest first):")
    for e in state["history"]:
        lines.append(f"  {e['when']}  {e['action']:<9} {e['alias']:<10} {e['from']} -> {e['to']}  "
                     f"by {e['who']}: {e['why']}")
    return "\n".join(lines)


def add_models_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast models`."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def main_models(args: argparse.Namespace, params: Params) -> dict | None:
    """Print registered versions, aliases and the alias history."""
    state = registry_state(Layout(params, args.home))
    if args.json:
        return state
    print(format_state(state))
    return None


def add_rollback_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast rollback`."""
    parser.add_argument("--reason", required=True, help="why: recorded in the alias history and version tags")


def main_rollback(args: argparse.Namespace, params: Params) -> dict:
    """Restore `previous` as champion (the CLI's audit time is the wall clock)."""
    return promote.rollback(Layout(params, args.home), args.reason, now=dt.datetime.now(UTC))


def add_mlflow_ui_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `railcast mlflow-ui`."""
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")


def main_mlflow_ui(args: argparse.Namespace, params: Params) -> dict:
    """Serve the MLflow UI for the store on 127.0.0.1 (replaces this process). The store's URI goes to
    the server in its environment, never its argv (`ps` shows argv to every user), and is printed with
    any password masked."""
    layout = Layout(params, args.home)
    tracking.connect(layout)  # creates the store and experiment so the UI opens on something
    uri = tracking.tracking_uri(layout)
    argv = [sys.executable, "-m", "mlflow", "server",
            "--default-artifact-root", (layout.mlflow_dir / "artifacts").resolve().as_uri(),
            "--host", "127.0.0.1", "--port", str(args.port), "--workers", "1"]  # one user, a shared machine
    print(f"MLflow UI on http://127.0.0.1:{args.port} (store {masked(uri)})", flush=True)
    os.execve(sys.executable, argv, {**os.environ, "MLFLOW_BACKEND_STORE_URI": uri})
    return {}  # not reached: execve replaces the process


def masked(uri: str) -> str:
    """`uri` with the password of its user part, if any, replaced by ***."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
