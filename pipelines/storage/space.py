"""Free disk space under the local folders Railcast writes to (the object store has none to watch)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from pipelines.storage.objects import DataPath

MB = 1024 * 1024


def free_mb(path: DataPath) -> float | None:
    """MB free to an unprivileged writer on the filesystem holding `path` (its nearest existing folder),
    or None for a path in the object store."""
    if not isinstance(path, Path):
        return None
    return shutil.disk_usage(_existing(path.absolute())).free / MB


def low_space(paths: Iterable[DataPath], min_free_mb: float) -> dict[str, float]:
    """{path: MB free} for the local `paths` with less than `min_free_mb` free, one per filesystem."""
    low, seen = {}, set()
    for path in paths:
        free = free_mb(path)
        if free is None:
            continue
        device = os.stat(_existing(path.absolute())).st_dev
        if free < min_free_mb and device not in seen:
            low[str(path)] = round(free, 1)
        seen.add(device)
    return low


def _existing(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (a data root not created yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
