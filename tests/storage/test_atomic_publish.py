"""Publishing a file: durable, and a writer killed mid-write leaves neither a torn file nor litter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from pipelines.config import PROJECT_ROOT
from pipelines.storage import atomic_path, read_table, write_parquet

pytestmark = pytest.mark.integration

WRITER = textwrap.dedent("""
    import sys, time
    from pipelines.storage import atomic_path
    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_bytes(b"half of a file")
        print("writing", flush=True)
        time.sleep(120)
""")


def test_a_killed_writer_leaves_no_torn_file_and_its_temp_file_goes_at_the_next_publish(tmp_path):
    target = tmp_path / "features" / "2025-09-01.parquet"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    assert not target.exists(), "nothing published"
    orphans = list(target.parent.glob(f".{target.name}.*.tmp"))
    assert len(orphans) == 1 and orphans[0].read_bytes() == b"half of a file"
    mine = target.parent / f".{target.name}.{os.getpid()}.inflight.tmp"   # a live writer's: left alone
    mine.write_bytes(b"")
    table = pa.table({"x": [1, 2, 3]})
    write_parquet(table, target)
    assert read_table(target).equals(table)
    assert sorted(target.parent.glob(f".{target.name}.*.tmp")) == [mine]


def test_a_publish_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """fsync order (seen through the calls; a power cut is not something a test can pull)."""
    target, synced = tmp_path / "x.json", []
    real = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with atomic_path(target) as tmp:
        tmp.write_text("{}")
        temporary = str(tmp)
    assert synced == [temporary, str(tmp_path)]
    assert target.read_text() == "{}"
