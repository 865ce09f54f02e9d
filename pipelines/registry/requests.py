"""Training requests: one registered version per request, however often the request is retried.

A request is what was asked (the as-of instant, the trigger, the training settings and the version of
the data read); its key is the SHA-256 of that, tagged on the run and on the version. A retried `train`
(an Airflow task retry after a tracking-server outage, a re-run) looks for the version of its key before
registering and returns it; a run that an earlier try left unfinished is closed as FAILED before a new
one starts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pipelines.registry import tracking
from pipelines.storage import Layout

REQUEST_TAG = "request_key"


def request_key(as_of: str, trigger: dict, settings: dict[str, Any]) -> str:
    """The SHA-256 of what was asked (canonical JSON)."""
    asked = {"as_of": as_of, "trigger": trigger, "settings": settings}
    return hashlib.sha256(json.dumps(asked, sort_keys=True, default=str).encode()).hexdigest()


def version_for(layout: Layout, key: str) -> dict | None:
    """The registered version of request `key` (tags, run id), or None."""
    found = tracking.client(layout).search_model_versions(
        f"name='{tracking.MODEL_NAME}' and tags.{REQUEST_TAG} = '{key}'")
    if not found:
        return None
    first = min(found, key=lambda mv: int(mv.version))
    return tracking.version_info(layout, first.version)


def close_abandoned_runs(layout: Layout, key: str) -> list[str]:
    """Mark runs of request `key` that an earlier try left RUNNING as FAILED; returns their ids."""
    mlc = tracking.client(layout)
    experiment = tracking.connect(layout)
    runs = mlc.search_runs([experiment], filter_string=f"tags.{REQUEST_TAG} = '{key}' and "
                                                       f"attributes.status = 'RUNNING'")
    for run in runs:
        mlc.set_terminated(run.info.run_id, status="FAILED")
    return [run.info.run_id for run in runs]
