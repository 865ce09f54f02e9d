"""The ingest stage over a raw archive filled by the poller through real HTTP with injected faults."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import hashlib
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_ingest_fixtures import CannedBoards, FakeClock, board, dep

from pipelines import schema as s
from pipelines.cli import main as cli_main
from pipelines.sources.dbf.archive import ArchiveWriter, make_line, raw_dir, read_raw_hour
from pipelines.sources.dbf.ledger import check_ledger
from pipelines.sources.dbf.poller import Poller, PollPlan
from pipelines.sources.ingest import ledger_path, run

pytestmark = pytest.mark.integration

START = dt.datetime(2025, 9, 1, 7, 0, tzinfo=dt.UTC)
END = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
T0 = dt.datetime(2025, 9, 1, 7, 50, tzinfo=dt.UTC)


def ok(*numbers: str, delay: int = 2) -> tuple[int, str, dict]:
    return (
        200,
        board(*[dep(trainNumber=n, scheduledDeparture="10:05", delayDeparture=delay) for n in numbers]),
        {},
    )


SCRIPT = {
    "Hamm": [
        ok("1", "2"),
        (500, '{"error": "internal error"}', {}),
        (503, "<html>busy</html>", {}),
        ok("1", "2", delay=3),
        (200, '{"departures": [{"train": "RE 7", "trainNu', {}),
        ok("2", "3"),
    ],
    "Unna": [
        (200, ok("7")[1], {"sleep": 0.5}),
        (200, ok("7")[1], {"cut": 40}),
        ok("7"),
        (500, '{"error": "backend down"}', {}),
        (
            200,
            board(
                dep(trainNumber="7"), dep(trainNumber="7"), dep(delayDeparture="late"), dep(trainNumber="8")
            ),
            {},
        ),
    ],
    "Essen": [(300, '{"error": "ambiguous station code/name", "candidates": []}', {})],
}


@pytest.fixture()
def filled(home: Path, layout) -> Path:
    """Poll the canned server through the hour boundary, then add a duplicated, reordered and crashed file."""
    server = CannedBoards(SCRIPT)
    clock, jitter = FakeClock(T0.timestamp()), random.Random(1)
    # the server's clock: ours plus up to 30 s of jitter (the simulator's clock in --clock server mode)
    server.date_for = lambda: email.utils.formatdate(clock.now + jitter.uniform(-30, 30), usegmt=True)
    raw = layout.dataset("raw")
    plan = PollPlan(
        base_url=server.url,
        stations=("Hamm", "Unna", "Essen"),
        interval_min=3.0,
        rate_per_min=10.0,
        timeout_s=0.25,
        retries=2,
        backoff_s=1.0,
        clock="server",
        max_polls=16,
    )
    try:
        Poller(plan, ArchiveWriter(raw, "poller-a"), clock=clock.time, sleep=clock.sleep).run()
    finally:
        server.stop()
    hour = raw_dir(raw, T0)
    lines = read_raw_hour(raw, T0).lines
    replay = ArchiveWriter(raw, "replay")  # a second writer re-delivering two polls, newest first
    for line in [lines[1], lines[0]]:
        replay.append(line, T0)
    crashed = hour / "crashed.jsonl.gz"
    crashed.write_bytes(gzip.compress(json.dumps(lines[2]).encode() + b"\n", mtime=0)[:-5])
    return raw


def outputs(layout) -> dict[str, str]:
    root = layout.root
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "raw" not in p.parts
    }


def expected_counts(raw: Path) -> dict[str, int]:
    """Counts computed straight from the archive, independently of the stage's code."""
    hours = (START, START + dt.timedelta(hours=1))
    lines = [line for h in hours for line in read_raw_hour(raw, h).lines]
    counts = {"attempted": len(lines), "failed": 0, "quarantined": 0, "bad_records": 0, "valid": 0}
    keys = set()
    for line in lines:
        if line["error"] or line["status"] != 200:
            counts["failed"] += 1
            continue
        try:
            records = json.loads(line["body"])["departures"]
        except ValueError:
            counts["quarantined"] += 1
            continue
        for record in records:
            if not isinstance(record["delayDeparture"], int):
                counts["bad_records"] += 1
                continue
            counts["valid"] += 1
            keys.add((line["station"], line["poll_time"], record["trainNumber"]))
    counts["duplicates"] = counts["valid"] - len(keys)
    return counts


def test_ledger_adds_up_over_faults_duplicates_and_a_crashed_writer(params, layout, filled) -> None:
    result = run(params, layout, START, END)
    ledger = json.loads(ledger_path(layout, START, END).read_text())
    assert check_ledger(ledger) == []
    polls, records, want = ledger["polls"], ledger["records"], expected_counts(filled)
    assert polls["attempted"] == want["attempted"] == result["polls"]["attempted"]
    assert polls["failed"] == want["failed"] and polls["quarantined"] == want["quarantined"] == 1
    assert ledger["reasons"]["poll:malformed_json"] == 1
    assert ledger["raw"]["truncated_members"] == 1 and result["raw_truncated_members"] == 1
    assert records["quarantined"] == want["bad_records"] >= 1
    assert ledger["reasons"]["record:wrong_type:delayDeparture"] == want["bad_records"]
    assert records["duplicates"] == want["duplicates"] >= 3  # repeated records + the replayed poll
    assert records["accepted"] == want["valid"] - want["duplicates"]
    assert ledger["reasons"]["poll:http_500"] >= 2 and ledger["reasons"]["poll:network:timeout"] == 2
    assert ledger["reasons"]["poll:network:incomplete_read"] == 1


def test_outputs_are_sorted_typed_and_every_attempt_has_a_poll_row(params, layout, filled) -> None:
    run(params, layout, START, END)
    snaps = [pq.read_table(p) for p in sorted(layout.dataset("snapshots").glob("*.parquet"))]
    polls = [pq.read_table(p) for p in sorted(layout.dataset("polls").glob("*.parquet"))]
    assert {t.schema for t in snaps} == {s.SNAPSHOT_SCHEMA} and {t.schema for t in polls} == {s.POLLS_SCHEMA}
    for table in snaps:
        keys = list(zip(*(table[k].to_pylist() for k in s.SNAPSHOT_KEY), strict=True))
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
    statuses = [row[s.POLL_STATUS] for t in polls for row in t.to_pylist()]
    ledger = json.loads(ledger_path(layout, START, END).read_text())
    assert len(statuses) == ledger["polls"]["attempted"]
    assert statuses.count("ok") == ledger["polls"]["succeeded"]
    ok_rows = [row for t in polls for row in t.to_pylist() if row[s.POLL_STATUS] == "ok"]
    assert sum(r[s.POLL_RECORDS] for r in ok_rows) >= sum(t.num_rows for t in snaps)
    essen = [row for t in polls for row in t.to_pylist() if row[s.STATION] == "Essen"]
    assert [(r[s.POLL_STATUS], r[s.POLL_REASON]) for r in essen] == [("failed", "http_300")]
    quarantine = [
        json.loads(x)
        for p in sorted((layout.dataset("quarantine") / "ingest").glob("*.jsonl"))
        for x in p.read_text().splitlines()
    ]
    assert {q["reason"] for q in quarantine} == {"malformed_json", "wrong_type:delayDeparture"}
    assert all(q["station"] and q["poll_time"] and q["content"] for q in quarantine)


def test_rerun_replaces_the_interval_with_identical_bytes(params, layout, filled) -> None:
    run(params, layout, START, END)
    first = outputs(layout)
    assert len(first) >= 5
    run(params, layout, START, END)
    assert outputs(layout) == first
    code = cli_main(
        ["ingest", "--home", str(layout.root), "--start", START.isoformat(), "--end", END.isoformat()]
    )
    assert code == 0 and outputs(layout) == first


def test_an_interval_without_raw_data_writes_a_zero_ledger(params, layout) -> None:
    result = run(params, layout, START, START + dt.timedelta(hours=1))
    assert result["hours"] == [] and result["polls"]["attempted"] == 0
    assert ledger_path(layout, START, START + dt.timedelta(hours=1)).exists()


def test_odd_raw_lines_are_quarantined_polls_not_crashes(params, layout) -> None:
    hour = dt.datetime(2025, 9, 1, 7, tzinfo=dt.UTC)
    writer = ArchiveWriter(layout.dataset("raw"), "odd")
    good = make_line("Hamm", "u", hour, 200, None, board(dep()).encode(), None)
    writer.append(good, hour)
    writer.append({**good, "poll_time": "yesterday"}, hour)
    writer.append({**good, "poll_time": (hour + dt.timedelta(hours=3)).isoformat()}, hour)  # wrong partition
    writer.append({**good, "station": ""}, hour)
    writer.append({**good, "status": 502, "body": "<html>Bad Gateway</html>"}, hour)
    writer.append({**good, "status": 200, "body": "x" * 100}, hour)
    path = raw_dir(layout.dataset("raw"), hour) / "odd.jsonl.gz"
    with open(path, "ab") as fh:
        fh.write(gzip.compress(b"{not json}\n", mtime=0))
    result = run(params, layout, hour, hour + dt.timedelta(hours=1))
    ledger = json.loads(Path(result["ledger"]).read_text())
    assert check_ledger(ledger) == []
    assert ledger["polls"] == {"attempted": 7, "succeeded": 1, "failed": 1, "quarantined": 5}
    reasons = {k: v for k, v in ledger["reasons"].items() if k.startswith("poll:")}
    assert reasons == {
        "poll:bad_poll_time": 1,
        "poll:outside_hour": 1,
        "poll:missing_field:station": 1,
        "poll:http_502": 1,
        "poll:malformed_json": 1,
        "poll:corrupt_raw_line": 1,
    }
    polls = pq.read_table(layout.hour_file("polls", hour)).to_pylist()
    assert [(p[s.POLL_STATUS], p[s.POLL_RECORDS]) for p in polls] == [
        ("failed", 0),
        ("ok", 1),
        ("quarantined", 0),
    ]


def raw_digests(raw: Path) -> dict[str, bytes]:
    return {str(p.relative_to(raw)): p.read_bytes() for p in sorted(raw.rglob("*")) if p.is_file()}


def test_raw_bytes_never_change_and_a_later_poll_only_appends(params, layout, filled) -> None:
    """The raw archive is the record of what the board said: ingest (re-runs and the CLI included)
    reads it and never writes it, and the poller's writer only appends whole gzip members."""
    before = raw_digests(filled)
    run(params, layout, START, END)
    run(params, layout, START, END)
    assert cli_main(["ingest", "--home", str(layout.root), "--start", START.isoformat(),
                     "--end", END.isoformat()]) == 0
    assert raw_digests(filled) == before
    later = make_line("Hamm", "u", T0 + dt.timedelta(minutes=9), 200, None, board(dep()).encode(), None)
    ArchiveWriter(filled, "poller-a").append(later, T0 + dt.timedelta(minutes=9))
    after = raw_digests(filled)
    grown = [name for name in before if after[name] != before[name]]
    assert len(grown) == 1 and after[grown[0]].startswith(before[grown[0]]), "appended, nothing rewritten"
    assert set(after) - set(before) == set(), "into the writer's own hour file"


def test_raw_data_arriving_after_its_hour_was_ingested_is_read_and_a_built_date_named(
        params, layout, monkeypatch) -> None:
    """Before, raw polls that reached the archive after their interval was ingested were read only by a
    manual re-ingest, and a date built without them was never reported. Each daily ingest now re-reads
    the hours of the last week whose raw bytes grew, and names a date already built without them."""
    from pipelines.runtime import orchestration as orch
    from pipelines.runtime import outbox, schedule
    from pipelines.runtime.context import Context
    from pipelines.sources.late import late_hours

    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)   # no mail server: the alert waits
    ctx, hour = Context(params, layout), dt.datetime(2025, 9, 2, 7, tzinfo=dt.UTC)
    writer = ArchiveWriter(layout.dataset("raw"), "poller-a")

    def poll(minute: int) -> None:
        at = hour + dt.timedelta(minutes=minute)
        writer.append(make_line("Hamm", "u", at, 200, None, board(dep(trainNumber=str(minute))).encode(),
                                None), at)

    def daily_ingest(n: int) -> dict:   # the ingest DAG's run of day n (0: the day of `hour`)
        start = dt.datetime(2025, 9, 1, 22, tzinfo=dt.UTC) + dt.timedelta(days=n)
        return orch.ingest_interval(ctx, start, start + dt.timedelta(days=1), schedule.SOURCE_RAW)

    poll(0)
    poll(3)
    first = daily_ingest(0)
    assert first["polls"]["attempted"] == 2 and first["late"] == {"hours": [], "built_dates": []}
    poll(6)                                              # the spool ships one more poll of that hour, late
    assert late_hours(layout, hour - dt.timedelta(days=1)) == [hour]
    assert daily_ingest(1)["late"] == {"hours": ["2025-09-02T07"], "built_dates": []}
    assert pq.read_table(layout.hour_file("polls", hour)).num_rows == 3
    assert late_hours(layout, hour - dt.timedelta(days=1)) == [], "read once, then no longer late"
    layout.day_file("features", dt.date(2025, 9, 2)).parent.mkdir(parents=True, exist_ok=True)
    layout.day_file("features", dt.date(2025, 9, 2)).touch()   # the date was built meanwhile
    poll(9)
    assert daily_ingest(2)["late"] == {"hours": ["2025-09-02T07"], "built_dates": ["2025-09-02"]}
    [alert] = outbox.messages(layout, ("pending",))
    assert b"--dag-id build_dataset --from-date 2025-09-03" in alert["content"]


def test_the_daily_ingest_run_alerts_while_a_data_folder_is_low_on_space(params, layout, monkeypatch) -> None:
    """Before, nothing watched free space: a full disk showed first as failing writes. The daily ingest
    run now measures the filesystems of RAILCAST_HOME and the data root (the real free space, against a
    threshold set above it) and queues one alert a day while it is low; the poller warns each minute."""
    import dataclasses
    import email
    import email.policy
    import logging

    from pipelines.runtime import orchestration as orch
    from pipelines.runtime import outbox, schedule
    from pipelines.runtime.context import Context
    from pipelines.sources.dbf.poller import Poller, PollPlan
    from pipelines.storage.space import free_mb

    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)   # no mail server: the alert waits
    start = dt.datetime(2025, 9, 1, 22, tzinfo=dt.UTC)

    def daily_ingest(min_free_mb: float, n: int = 0) -> dict:
        ingest = dataclasses.replace(params.ingest, min_free_mb=min_free_mb)
        tight = dataclasses.replace(params, ingest=ingest)
        begin = start + dt.timedelta(days=n)
        return orch.ingest_interval(Context(tight, layout), begin, begin + dt.timedelta(days=1),
                                    schedule.SOURCE_RAW)

    assert daily_ingest(1.0)["low_disk"] == {} and outbox.messages(layout) == []
    above = free_mb(layout.root) * 2 + 1024
    low = daily_ingest(above)["low_disk"]
    assert list(low) == [str(layout.root)], "one entry per filesystem: the data root is on the same one"
    assert list(daily_ingest(above)["low_disk"]) == list(low), "free space moves; the folder stays named"
    [alert] = outbox.messages(layout, ("pending",))   # the same day again: the same message
    body = email.message_from_bytes(alert["content"], policy=email.policy.default).get_content()
    assert alert["subject"] == "disk space low" and f"{layout.root}: " in body and "MB free" in body
    assert "RAILCAST_HOME" in body, body
    daily_ingest(above, n=1)
    assert len(outbox.messages(layout, ("pending",))) == 2, "still low the next day: told again"

    poller = Poller(PollPlan(base_url="http://127.0.0.1:9", stations=("A",), min_free_mb=above),
                    ArchiveWriter(layout.dataset("raw"), "w"))
    logger, seen = logging.getLogger("pipelines.sources.dbf.poller"), []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    try:
        assert list(poller.watch_space()) == [str(layout.dataset("raw"))]
    finally:
        logger.removeHandler(handler)
    assert len(seen) == 1 and "MB free under" in seen[0] and "ingest.min_free_mb" in seen[0], seen
