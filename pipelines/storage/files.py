"""Atomic, deterministic writes and reads of dataset files, local or in the store."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.storage.objects import DataPath, StorePath, to_path


@contextmanager
def atomic_path(target: str | DataPath) -> Iterator[Path]:
    """Yield a local temporary path; publish it as `target` only if the block succeeds (a rename beside
    a local target, one upload to a store target).

    A local publish is durable: the file is fsynced before the rename and the folder after it, so a
    power loss leaves the old bytes or the new ones, never an empty name. The temporary file is named
    with the writer's pid; one left by a writer killed mid-write (SIGKILL, OOM) is removed by the first
    publish into its folder of a later process (or of this one, if it had not written there yet)."""
    target = to_path(target)
    local = isinstance(target, Path)
    folder = target.parent if local else None
    if local:
        folder.mkdir(parents=True, exist_ok=True)
        if folder not in _SWEPT:   # once per folder and process: a listing costs ~6 ms at 10k files
            _remove_orphans(folder)
            _SWEPT.add(folder)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        if local:
            _fsync(tmp, os.O_RDONLY)
            os.replace(tmp, target)
            _fsync(folder, os.O_RDONLY | os.O_DIRECTORY)
        else:
            target.write_bytes(Path(tmp).read_bytes())
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_SWEPT: set[Path] = set()   # folders this process has already cleared of orphaned temporary files


def _fsync(path: str | Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_orphans(folder: Path) -> None:
    """Delete the temporary files in `folder` whose writer (the pid in their name) no longer runs."""
    for orphan in folder.glob(".*.tmp"):
        pid = orphan.name.rsplit(".", 3)[-3] if orphan.name.count(".") >= 4 else ""
        if pid.isdigit() and not _running(int(pid)):
            orphan.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process
        return True
    return True


def write_parquet(table: Any, target: str | DataPath) -> DataPath:
    """Write an Arrow table (or DataFrame) atomically with settings that give identical bytes on re-run."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=True, write_statistics=True)
    return to_path(target)


def read_table(path: str | DataPath, **options: Any) -> Any:
    """A Parquet file as an Arrow table, local or in the store (options go to pyarrow's read_table)."""
    import pyarrow.parquet as pq

    path = to_path(path)
    if isinstance(path, StorePath):
        return pq.read_table(path.key, filesystem=path.fs, **options)
    return pq.read_table(path, **options)


def read_frame(path: str | DataPath, **options: Any) -> Any:
    """A Parquet file as a pandas DataFrame (as pandas.read_parquet reads it)."""
    return read_table(path, **options).to_pandas()


def arrow_dataset(paths: list[DataPath], schema: Any = None) -> Any:
    """Parquet files as one Arrow dataset (DuckDB scans it: its own S3 reader is not installable)."""
    import pyarrow.dataset as ds

    stored = [p for p in paths if isinstance(p, StorePath)]
    if stored:
        return ds.dataset([p.key for p in stored], filesystem=stored[0].fs, format="parquet", schema=schema)
    return ds.dataset([str(p) for p in paths], format="parquet", schema=schema)


def write_json(obj: Any, target: str | DataPath) -> DataPath:
    """Write JSON atomically, keys sorted, so re-runs give identical bytes."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    return to_path(target)


def read_json(path: str | DataPath) -> Any:
    return json.loads(to_path(path).read_text())


def duckdb_view(con: Any, name: str, paths: list[DataPath]) -> None:
    """View `name` in DuckDB connection `con` over Parquet files: DuckDB's own reader for local files,
    an Arrow dataset for objects in the store (DuckDB's S3 extension is not installable here)."""
    if any(isinstance(p, StorePath) for p in paths):
        con.register(f"{name}_arrow", arrow_dataset(paths))
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_arrow")
        return
    quoted = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{quoted}])")


def local_file(path: DataPath, folder: Path) -> Path:
    """`path` itself when it is local, else a copy of the object in `folder` (for tools that need a file)."""
    if isinstance(path, Path):
        return path
    copy = folder / path.name
    copy.write_bytes(path.read_bytes())
    return copy
