"""Where state lives (RAILCAST_HOME) and atomic, deterministic writes."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.config import PROJECT_ROOT, Params


def railcast_home() -> Path:
    """Root of all mutable state: $RAILCAST_HOME, default `.railcast/` in the project."""
    return Path(os.environ.get("RAILCAST_HOME") or PROJECT_ROOT / ".railcast").resolve()


class Layout:
    """Dataset paths under one data root, as declared in params.yaml `paths:`."""

    def __init__(self, params: Params, root: str | Path | None = None) -> None:
        self.root = Path(root).resolve() if root else railcast_home()
        self._paths = params.paths

    def dataset(self, name: str) -> Path:
        """Directory of dataset `name` (a key of `paths:`)."""
        return self.root / getattr(self._paths, name)

    def hour_file(self, name: str, hour: dt.datetime, suffix: str = ".parquet") -> Path:
        return self.dataset(name) / f"{hour:%Y-%m-%dT%H}{suffix}"

    def day_file(self, name: str, day: dt.date, suffix: str = ".parquet") -> Path:
        return self.dataset(name) / f"{day:%Y-%m-%d}{suffix}"

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def dvc_remote(self) -> Path:
        return self.root / "dvc-remote"


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it over `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(table: Any, target: str | Path) -> Path:
    """Write an Arrow table (or DataFrame) atomically with settings that give identical bytes on re-run."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=True, write_statistics=True)
    return Path(target)


def write_json(obj: Any, target: str | Path) -> Path:
    """Write JSON atomically, keys sorted, so re-runs give identical bytes."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    return Path(target)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
