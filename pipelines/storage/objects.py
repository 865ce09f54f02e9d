"""Objects in an S3-compatible store as paths: the subset of pathlib.Path Railcast uses, over pyarrow's
S3 filesystem; the dataset root a URI names; and the one function that turns a stored string back into
a path. Every write is one PUT of the finished object: readers see all of it or nothing."""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any


@lru_cache(maxsize=4)
def s3_filesystem(endpoint: str | None, access_key: str | None, secret_key: str | None, region: str):
    """pyarrow's S3 filesystem for these settings (one per process and settings)."""
    from pyarrow import fs

    scheme = "https" if not endpoint or endpoint.startswith("https") else "http"
    return fs.S3FileSystem(access_key=access_key, secret_key=secret_key, region=region,
                           endpoint_override=endpoint, scheme=scheme)


class StorePath:
    """A file or folder in an S3-compatible store, with the subset of pathlib.Path Railcast uses."""

    def __init__(self, fs: Any, key: str) -> None:
        self.fs, self.key = fs, key.strip("/")

    @classmethod
    def from_uri(cls, uri: str) -> StorePath:
        env = os.environ.get
        fs = s3_filesystem(env("AWS_ENDPOINT_URL"), env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                           env("AWS_DEFAULT_REGION") or "us-east-1")
        return cls(fs, uri.removeprefix("s3://"))

    def __truediv__(self, other: str) -> StorePath:
        return StorePath(self.fs, posixpath.join(self.key, str(other)))

    def __str__(self) -> str:
        return f"s3://{self.key}"

    __repr__ = __str__

    def __fspath__(self) -> str:
        raise TypeError(f"{self} is in the object store, not a local file: read and write it through "
                        f"pipelines.storage")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorePath) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: StorePath) -> bool:
        return self.key < other.key

    name = property(lambda self: posixpath.basename(self.key))
    stem = property(lambda self: PurePosixPath(self.key).stem)
    suffix = property(lambda self: PurePosixPath(self.key).suffix)
    parent = property(lambda self: StorePath(self.fs, posixpath.dirname(self.key)))

    def relative_to(self, other: StorePath) -> PurePosixPath:
        return PurePosixPath(self.key).relative_to(other.key)

    def _type(self) -> Any:
        return self.fs.get_file_info(self.key).type

    def exists(self) -> bool:
        from pyarrow import fs

        return self._type() != fs.FileType.NotFound

    def is_file(self) -> bool:
        from pyarrow import fs

        return self._type() == fs.FileType.File

    def is_dir(self) -> bool:
        from pyarrow import fs

        return self._type() == fs.FileType.Directory

    def iterdir(self) -> Iterator[StorePath]:
        from pyarrow import fs

        found = self.fs.get_file_info(fs.FileSelector(self.key, allow_not_found=True))
        return iter(sorted(StorePath(self.fs, info.path) for info in found))

    def glob(self, pattern: str) -> Iterator[StorePath]:
        """Children whose name matches `pattern` (one level: the patterns Railcast uses)."""
        return (p for p in self.iterdir() if fnmatch.fnmatchcase(p.name, pattern))

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: an object store has no folders, only keys."""

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.key) as stream:
            return stream.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        with self.fs.open_output_stream(self.key) as stream:  # one PUT: readers see all or nothing
            stream.write(data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def unlink(self, missing_ok: bool = False) -> None:
        if missing_ok and not self.exists():
            return
        self.fs.delete_file(self.key)


DataPath = Path | StorePath


def data_root(uri: str | None, default: Path) -> DataPath:
    """The dataset root a URI names (`s3://...` or a local path), `default` when it is empty."""
    if not uri:
        return default
    return StorePath.from_uri(uri) if uri.startswith("s3://") else Path(uri).resolve()


def to_path(value: str | Path | StorePath) -> DataPath:
    """A path from what a record or an XCom holds: `s3://...` names an object in the store."""
    if isinstance(value, StorePath | Path):
        return value
    return StorePath.from_uri(value) if str(value).startswith("s3://") else Path(value)
