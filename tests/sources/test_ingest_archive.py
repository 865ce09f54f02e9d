"""The raw archive: append-only gzip members per UTC poll hour, exact bodies, crash-tolerant reading."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from pipelines.sources.dbf.archive import (
    ArchiveWriter,
    body_of,
    make_line,
    raw_dir,
    read_raw_file,
    read_raw_hour,
)
from pipelines.timeutil import hour_key

pytestmark = pytest.mark.integration

T0 = dt.datetime(2025, 9, 1, 7, 59, 58, 123456, tzinfo=dt.UTC)


def line_at(station: str, when: dt.datetime, body: bytes | None = b'{"departures": []}', **kw) -> dict:
    return make_line(
        station,
        f"http://x/{station}",
        when,
        kw.get("status", 200),
        "Mon, 01 Sep 2025 07:59:58 GMT",
        body,
        kw.get("error"),
    )


def test_lines_land_in_their_utc_poll_hour_and_read_back_exactly(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path, "w1")
    later = T0 + dt.timedelta(seconds=5)  # crosses into 08:00
    bodies = [b'{"departures": [{"train": "S 1"}]}', "Köln Hbf ☃".encode(), b"\xff\xfe not utf-8", b""]
    for i, body in enumerate(bodies):
        writer.append(line_at(f"S{i}", T0 if i < 2 else later, body), T0 if i < 2 else later)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-09-01T07", "2025-09-01T08"]
    got = read_raw_hour(tmp_path, T0).lines + read_raw_hour(tmp_path, later).lines
    assert [body_of(g) if isinstance(body_of(g), bytes) else body_of(g).encode() for g in got] == bodies
    assert got[2]["body_base64"] is True and "body_base64" not in got[0]
    assert got[0]["poll_time"] == T0.isoformat()


def test_network_failures_are_archived_with_their_error(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path, "w1")
    writer.append(line_at("Hamm", T0, None, status=None, error="timeout"), T0)
    (got,) = read_raw_hour(tmp_path, T0).lines
    assert got["error"] == "timeout" and got["body"] is None and got["status"] is None


def test_appends_are_byte_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        writer = ArchiveWriter(tmp_path / name, "w")
        for i in range(3):
            writer.append(line_at(f"S{i}", T0), T0)
    file_a, file_b = (tmp_path / n / "2025-09-01T07" / "w.jsonl.gz" for n in ("a", "b"))
    assert file_a.read_bytes() == file_b.read_bytes()
    assert len(gzip.decompress(file_a.read_bytes()).splitlines()) == 3  # plain gzip tools read it too


def test_truncated_last_member_of_a_crashed_poller_is_counted_not_fatal(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path, "w")
    for i in range(3):
        path = writer.append(line_at(f"S{i}", T0), T0)
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # the crash cut the last member's trailer
    result = read_raw_file(path)
    assert [line["station"] for line in result.lines] == ["S0", "S1"]
    assert result.truncated_members == 1


def test_a_restarted_writer_appending_after_a_cut_member_loses_only_that_member(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path, "w")
    path = writer.append(line_at("S0", T0), T0)
    writer.append(line_at("S1", T0, b'{"departures": []}' * 20), T0)
    path.write_bytes(path.read_bytes()[:-30])
    writer.append(line_at("S2", T0), T0)
    result = read_raw_file(path)
    assert [line["station"] for line in result.lines] == ["S0", "S2"]
    assert result.truncated_members == 1


def test_a_tail_leaves_a_member_being_written_for_its_next_read(tmp_path: Path) -> None:
    from pipelines.live.feed import ArchiveTail

    writer, tail = ArchiveWriter(tmp_path, "w"), ArchiveTail([tmp_path], T0)
    path = writer.append(line_at("S0", T0), T0)
    whole = path.read_bytes()
    writer.append(line_at("S1", T0), T0)
    second = path.read_bytes()[len(whole):]
    path.write_bytes(whole + second[:10])                # the writer is half-way through S1
    assert [x["station"] for x in tail.read()] == ["S0"]
    path.write_bytes(whole + second)                     # ... and has finished it
    assert [x["station"] for x in tail.read()] == ["S1"]
    path.write_bytes(whole + second + second[:10])       # a crash cut S2's copy; a restart appends S3
    writer.append(line_at("S3", T0), T0)
    assert [x["station"] for x in tail.read()] == ["S3"] and tail.truncated_members == 1
    assert tail.read() == []


def test_undecodable_lines_are_kept_apart(tmp_path: Path) -> None:
    path = raw_dir(tmp_path, T0) / "w.jsonl.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b'not json\n{"station": "only"}\n', mtime=0))
    ArchiveWriter(tmp_path, "w").append(line_at("S0", T0), T0)
    result = read_raw_file(path)
    assert result.corrupt_lines == ["not json", '{"station": "only"}']
    assert [line["station"] for line in result.lines] == ["S0"]


def test_missing_hour_reads_as_empty(tmp_path: Path) -> None:
    result = read_raw_hour(tmp_path, T0)
    assert result.lines == [] and result.truncated_members == 0


def test_an_archive_in_the_object_store_ships_whole_hours_from_a_spool(s3_store, tmp_path, monkeypatch):
    from pipelines.storage import StorePath
    from tests.services import new_bucket

    for name, value in s3_store.client_env().items():
        monkeypatch.setenv(name, value)
    root = StorePath.from_uri(f"s3://{new_bucket(s3_store)}/raw")
    with pytest.raises(ValueError, match="spool"):
        ArchiveWriter(root, "w1")
    writer = ArchiveWriter(root, "w1", spool=tmp_path / "spool")
    later = T0 + dt.timedelta(seconds=5)  # the next UTC hour
    writer.append(line_at("Hamm", T0), T0)
    writer.append(line_at("Unna", T0), T0)
    assert not raw_dir(root, T0).exists(), "an hour still being written stays in the spool"
    writer.append(line_at("Soest", later), later)  # the poller moved on: 07:00 is shipped whole
    assert [g["station"] for g in read_raw_hour(root, T0).lines] == ["Hamm", "Unna"]
    assert read_raw_hour(root, later).lines == []
    assert writer.ship() == [raw_dir(root, later) / "w1.jsonl.gz"]  # stopping ships the rest
    assert [g["station"] for g in read_raw_hour(root, later).lines] == ["Soest"]
    kept = sorted(p.relative_to(tmp_path / "spool").as_posix() for p in (tmp_path / "spool").rglob("*.*"))
    assert kept == [f"{hour_key(T0)}/w1.jsonl.gz.shipped", f"{hour_key(later)}/w1.jsonl.gz.shipped"]
    hours_later = T0 + dt.timedelta(hours=4)     # copies for `railcast live` go after two hours
    writer.append(line_at("Hamm", hours_later), hours_later)
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == [hour_key(hours_later)]
