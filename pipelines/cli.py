"""The `railcast` command line: one sub-command per stage, plus utilities."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
from types import ModuleType
from typing import Any

from pipelines.errors import StageError
from pipelines.stages import STAGES, stage_module

EPILOG = """Every stage reads params.yaml (or --params) and keeps its state under RAILCAST_HOME
(default: .railcast/ in the project). `railcast STAGE --help` explains a stage's options."""


# Commands that are not pipeline stages.
COMMANDS: dict[str, tuple[str, str]] = {
    "simulator": ("pipelines.sources.simulator.cli", "Simulator utilities: `stations`, `serve`"),
    "models": ("pipelines.registry.commands", "Show registered model versions, aliases and alias history"),
    "rollback": ("pipelines.registry.commands", "Restore the previous champion (audited like a promotion)"),
    "alerts": ("pipelines.runtime.alerts",
               "Show the alert outbox: pending, sent and dead-lettered messages per recipient"),
    "reproduce": ("pipelines.registry.reproduce",
                  "Rebuild a registered model version from its lineage; check its hash"),
    "loop": ("pipelines.runtime.loop",
             "Play the simulated calendar through the stages in-process (no Airflow)"),
    "demo": ("pipelines.demo.run", "Run the closed loop on the simulator through Airflow (make demo)"),
    "airflow": ("pipelines.ops.airflow_local",
                "Start Airflow standalone on 127.0.0.1:8080 under RAILCAST_HOME"),
    "stack": ("pipelines.ops.stack_cli",
              "The production deployment on this machine (PostgreSQL, Redis, Celery): up, status, down"),
    "serve": ("pipelines.serving.server",
              "The prediction API on 127.0.0.1:8000: /v1/predict, /healthz, /metrics (hot reload)"),
    "live": ("pipelines.live.cli",
             "Predict departures while the trains run, from the poller's archive, into the live stream"),
    "mlflow-ui": ("pipelines.registry.commands",
                  "Open the MLflow UI on 127.0.0.1:5000 for the embedded store"),
}


class Terminated(KeyboardInterrupt):
    """SIGTERM turned into an exception where the program is, like Ctrl-C: every `finally` runs and stops
    what the command started (Python's default SIGTERM ends the process without running any)."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def command_module(name: str) -> ModuleType:
    """Import the module implementing stage or command `name`."""
    if name in STAGES:
        return stage_module(name)
    return importlib.import_module(COMMANDS[name][0])


def _parse_override(text: str) -> tuple[str, Any]:
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key, yaml.safe_load(value)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params.yaml to use (default: the project's)")
    parser.add_argument("--home", default=None, help="data root (default: $RAILCAST_HOME)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], type=_parse_override,
                        metavar="KEY=VALUE", help="override a params.yaml value, e.g. train.window_days=7")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only the chosen command's module is imported (to add its options)."""
    parser = argparse.ArgumentParser(prog="railcast", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in STAGES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            _common(p)
            command_module(name).add_arguments(p)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            _common(p)
            module = command_module(name)
            adder = getattr(module, f"add_{name.replace('-', '_')}_arguments", None) or module.add_arguments
            adder(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `railcast` and `python -m pipelines`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    known = command in STAGES or command in COMMANDS
    parser = build_parser(command if known else None)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from pipelines.config import ConfigError, load_params

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        params = load_params(args.params, dict(args.overrides))
        module = command_module(args.command)
        runner = getattr(module, f"main_{args.command.replace('-', '_')}", None) or module.main
        result = runner(args, params)
    except ConfigError as exc:
        print(f"railcast: configuration error: {exc}", file=sys.stderr)
        return 2
    except StageError as exc:
        print(f"railcast {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"railcast {args.command}: stopped by {'SIGTERM' if terminated else 'Ctrl-C'}", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    finally:
        if main_thread and previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if isinstance(result, dict):
        print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0
