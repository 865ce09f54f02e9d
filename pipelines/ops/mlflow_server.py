"""An MLflow tracking server as Railcast runs it in the production shape: runs and the registry in a SQL
database (PostgreSQL), artifacts in the S3 store behind the server (`--serve-artifacts`), so clients
need only `MLFLOW_TRACKING_URI=http://...` and never hold S3 keys.

The database URL and the S3 keys reach the server through its environment (MLflow reads
MLFLOW_BACKEND_STORE_URI and MLFLOW_ARTIFACTS_DESTINATION), never its command line.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from pipelines.ops.object_store import S3Access
from pipelines.ops.process_tree import Service


class MlflowServer(Service):
    """`mlflow server` on host:port; start() waits for /health, stop() leaves no process behind."""

    name = "the MLflow server"

    def __init__(self, backend_uri: str, artifacts: str, s3: S3Access, log_dir: Path, *,
                 host: str = "127.0.0.1", port: int) -> None:
        self.backend_uri, self.artifacts, self.s3 = backend_uri, artifacts, s3
        self.log_dir, self.host, self.port = Path(log_dir), host, port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "mlflow", "server", "--serve-artifacts", "--host", self.host,
                "--port", str(self.port), "--workers", "1", "--allowed-hosts",
                f"{self.host}:{self.port},localhost:{self.port}"]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.s3.client_env(), "MLFLOW_BACKEND_STORE_URI": self.backend_uri,
                "MLFLOW_ARTIFACTS_DESTINATION": self.artifacts}

    def start(self, timeout_s: float = 120) -> MlflowServer:
        """Start the server and wait until /health answers."""
        self.spawn(self.command(), self.environment(), self.log_dir / "mlflow-server.log")
        self.wait_ready(self._healthy, timeout_s)
        return self

    def _healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/health", timeout=5) as answer:
            return answer.status == 200
