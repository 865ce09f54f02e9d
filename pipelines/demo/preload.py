"""Preload Railcast's stage modules where the demo's tasks fork from, so they start without importing them.

The LocalExecutor forks its workers from the scheduler and each task from a worker; a Celery worker
forks its pool processes, and each task from one of those: whatever the scheduler (embedded) or the
Celery worker (production) imported is already in every task process. A fresh task otherwise pays
5-15 s of imports (pandas, Great Expectations, MLflow, LightGBM, Evidently) before doing a second of
work, which on 2 cores dominates a demo of ~150 short tasks. Only import: nothing is started (no
threads, no pools), so forking stays safe. The plugin file is generated under the demo's Airflow
home (runtime state).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from pipelines.stages import STAGE_MODULES

log = logging.getLogger(__name__)
EXTRA = ("airflow.sdk", "pipelines.runtime.orchestration", "pipelines.runtime.lifecycle",
         "pipelines.runtime.alerts", "pipelines.monitoring.skill")
PLUGIN = '''"""Written by `railcast demo` (see pipelines/demo/preload.py): preload stage modules."""
import sys

if sys.argv[1:2] == ["scheduler"] or sys.argv[1:3] == ["celery", "worker"]:
    from pipelines.demo.preload import preload

    preload()
'''


def modules() -> list[str]:
    """What the scheduler imports: every stage module plus what the DAG files and tasks use."""
    return list(STAGE_MODULES.values()) + list(EXTRA)


def preload() -> list[str]:
    """Import the modules; one that fails to import is logged and skipped (its task will report it)."""
    loaded = []
    for name in modules():
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:  # a broken stage must not take the scheduler down with it
            log.exception("preload of %s failed", name)
    return loaded


def write_plugin(folder: Path) -> Path:
    """The plugin stub in `folder` (the demo's AIRFLOW__CORE__PLUGINS_FOLDER)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "railcast_preload.py"
    target.write_text(PLUGIN)
    return target


def plugin_env(folder: Path) -> dict[str, str]:
    """Airflow settings that load the plugin at process start (lazy loading would skip the scheduler)."""
    return {"AIRFLOW__CORE__PLUGINS_FOLDER": str(folder), "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False"}
