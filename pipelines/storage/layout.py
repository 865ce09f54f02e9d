"""Where state lives: local state under RAILCAST_HOME, datasets under the data root (see the package)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pipelines.config import PROJECT_ROOT, Params
from pipelines.storage.objects import DataPath, data_root

DATA_URI_ENV = "RAILCAST_DATA_URI"


def railcast_home() -> Path:
    """Root of all mutable state: $RAILCAST_HOME, default `.railcast/` in the project."""
    return Path(os.environ.get("RAILCAST_HOME") or PROJECT_ROOT / ".railcast").resolve()


class Layout:
    """Dataset paths under one data root, as declared in params.yaml `paths:`, and local state's root.

    `root` (RAILCAST_HOME by default) holds local state; the datasets go under `data`: the given URI,
    else $RAILCAST_DATA_URI when `root` was not given either, else `root` itself.
    """

    def __init__(self, params: Params, root: str | Path | None = None, data: str | None = None) -> None:
        self.root = Path(root).resolve() if root else railcast_home()
        self.data = data_root(data if data is not None else (None if root else os.environ.get(DATA_URI_ENV)),
                              self.root)
        self._paths = params.paths

    def with_params(self, params: Params) -> Layout:
        """The same roots, with another params' dataset names."""
        return Layout(params, self.root, data=str(self.data))

    def dataset(self, name: str) -> DataPath:
        """Directory of dataset `name` (a key of `paths:`)."""
        return self.data / getattr(self._paths, name)

    def hour_file(self, name: str, hour: dt.datetime, suffix: str = ".parquet") -> DataPath:
        return self.dataset(name) / f"{hour:%Y-%m-%dT%H}{suffix}"

    def day_file(self, name: str, day: dt.date, suffix: str = ".parquet") -> DataPath:
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
