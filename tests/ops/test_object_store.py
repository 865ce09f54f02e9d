"""The S3 store (SeaweedFS `weed mini`, a real object store): loopback only, signed requests only, a
clean stop, and DVC's remote on it (`dvc push`, then `dvc pull` into an empty cache)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from pipelines.ops import process_tree
from pipelines.ops.object_store import S3Access
from tests.services import new_bucket, start_object_store

pytestmark = pytest.mark.integration


def listening(ports: set[int]) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp shows them) listening on any of `ports`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if state == "0A" and int(port, 16) in ports:
                found.add(address)
    return found


def test_a_store_listens_on_loopback_only_refuses_unsigned_and_stops_clean(tmp_path):
    store = start_object_store(tmp_path)
    try:
        ports = set(store.ports.values())
        assert listening(ports) == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0 or ::
        assert not any(store.access.secret_key in arg for arg in store.command())  # keys stay out of argv
        bucket = new_bucket(store.access)
        pq.write_table(pa.table({"x": [1, 2]}), f"{bucket}/t.parquet", filesystem=store.access.filesystem())
        forged = S3Access(store.access.endpoint, store.access.access_key, "not-the-secret")
        with pytest.raises(OSError, match="ACCESS_DENIED|AccessDenied|403"):
            forged.filesystem().get_file_info(f"{bucket}/t.parquet")
        pid = store.proc.pid
    finally:
        store.stop()
    assert process_tree.group_members(pid) == [] and listening(ports) == set()


def dvc(args: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"dvc {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_dvc_push_then_pull_into_an_empty_cache(s3_store, tmp_path):
    bucket = new_bucket(s3_store)
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, **s3_store.client_env(), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc(["init", "-q"], repo, env)
    data = repo / "data"
    data.mkdir()
    for i in range(3):
        pq.write_table(pa.table({"day": [i] * 100, "v": list(range(100))}), data / f"{i}.parquet")
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    dvc(["add", "data"], repo, env)
    dvc(["remote", "add", "-d", "store", f"s3://{bucket}/dvc"], repo, env)
    dvc(["remote", "modify", "store", "endpointurl", s3_store.endpoint], repo, env)
    dvc(["push"], repo, env)
    objects = s3_store.filesystem().get_file_info(fs.FileSelector(f"{bucket}/dvc", recursive=True))
    assert sum(o.type == fs.FileType.File for o in objects) == 4  # three files and the directory listing

    subprocess.run(["rm", "-rf", str(repo / ".dvc" / "cache"), str(data)], check=True)
    dvc(["pull"], repo, env)
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    assert "credentials" not in (repo / ".dvc" / "config").read_text()  # keys only in the environment
