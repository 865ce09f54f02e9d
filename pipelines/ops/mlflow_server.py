"""An MLflow tracking server as Railcast runs it in the production shape: runs and the registry in a SQL
database (PostgreSQL), artifacts in the S3 store behind the server (`--serve-artifacts`), so clients
need only `MLFLOW_TRACKING_URI=http://...` and never hold S3 keys.

The database URL and the S3 keys reach the server through its environment (MLflow reads
MLFLOW_BACKEND_STORE_URI and MLFLOW_ARTIFACTS_DESTINATION), never its command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pipelines.ops.object_store import S3Access
from pipelines.ops.process_tree import stop_tree


class MlflowServer:
    """`mlflow server` on host:port; start() waits for /health, stop() leaves no process behind."""

    def __init__(self, backend_uri: str, artifacts: str, s3: S3Access, log_dir: Path, *,
                 host: str = "127.0.0.1", port: int) -> None:
        self.backend_uri, self.artifacts, self.s3 = backend_uri, artifacts, s3
        self.log_dir, self.host, self.port = Path(log_dir), host, port
        self.proc: subprocess.Popen | None = None

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
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / "mlflow-server.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(self.command(), env=self.environment(), stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the MLflow server exited with {self.proc.returncode}: see "
                                   f"{self.log_dir / 'mlflow-server.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"the MLflow server on {self.url} did not answer /health in {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_tree(self.proc, timeout_s=20, grace_s=5)
            self.proc = None

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
