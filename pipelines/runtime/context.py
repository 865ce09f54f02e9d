"""The runtime context: params and the storage layout, built once at the edge and passed down.

An Airflow task builds it once (`from_environment`: params.yaml or $RAILCAST_PARAMS, data root
$RAILCAST_HOME, the worker's settings); the in-process loop and the CLI build it from the `Params` they
already hold. Nothing below the edge reads the environment or params.yaml again. Standard library at
the top: DAG files import this module at parse time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.config import Params
    from pipelines.storage import Layout


@dataclass(frozen=True)
class Context:
    """What every runtime function needs: the parsed params and where the data lives."""

    params: Params
    layout: Layout

    @classmethod
    def from_environment(cls) -> Context:
        """The context of a task: params.yaml (or $RAILCAST_PARAMS) parsed once, data root $RAILCAST_HOME."""
        from pipelines.config import load_params
        from pipelines.storage import Layout

        params = load_params(os.environ.get("RAILCAST_PARAMS") or None)
        return cls(params, Layout(params))

    @classmethod
    def of(cls, params: Params, root: str | os.PathLike | None = None) -> Context:
        """A context from params already parsed ; data root `root` or RAILCAST_HOME."""
        from pipelines.storage import Layout

        return cls(params, Layout(params, root))
