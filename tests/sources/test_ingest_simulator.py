"""Ingest against the simulator's real HTTP server: HTTP path == bulk path, and faults accounted for."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_ingest_fixtures import FakeClock

from pipelines import schema as s
from pipelines.sources.dbf.archive import ArchiveWriter, make_line, read_raw_hour
from pipelines.sources.dbf.fetch import board_url, fetch
from pipelines.sources.dbf.ledger import check_ledger
from pipelines.sources.dbf.pacing import server_time
from pipelines.sources.dbf.poller import Poller, PollPlan
from pipelines.sources.ingest import ledger_path, run
from pipelines.sources.simulator import server as server_mod
from pipelines.sources.simulator.bulk import bulk_interval
from pipelines.sources.simulator.clock import SimClock, fixed_clock
from pipelines.sources.simulator.faults import FaultPlan
from pipelines.sources.simulator.source import network_source

pytestmark = pytest.mark.integration

STATIONS = ("Berlin Hbf", "Bochum Hbf", "Augsburg Hbf")


@pytest.fixture(scope="module")
def source():
    """The truth engine's source, its poll list narrowed to STATIONS (the bulk path polls `names`)."""
    from pipelines.config import load_params

    narrowed = network_source(load_params())
    narrowed.names = sorted(STATIONS)
    return narrowed


def only(table: pa.Table, stations: tuple[str, ...]) -> pa.Table:
    return table.filter(pc.is_in(table[s.STATION], pa.array(stations)))


def poll_like_bulk(params, layout, source, polls: pa.Table) -> None:
    """Poll the server over HTTP at exactly the bulk path's poll instants (its clock set to each)."""
    clock = fixed_clock(polls[s.POLL_TIME][0].as_py())
    handle = server_mod.start_server(params, clock=clock, source=source)
    writer = ArchiveWriter(layout.dataset("raw"), "http")
    try:
        for row in polls.to_pylist():
            clock.set(row[s.POLL_TIME])
            url = board_url(handle.url, row[s.STATION])
            got = fetch(url, 10.0, params.ingest.max_body_bytes)
            poll_time = server_time(got.date_header)  # --clock server: the simulator's instant
            writer.append(
                make_line(row[s.STATION], url, poll_time, got.status, got.date_header, got.body, got.error),
                poll_time,
            )
    finally:
        handle.stop()


@pytest.mark.parametrize(
    "start",
    [
        dt.datetime(2025, 9, 1, 6, tzinfo=dt.UTC),  # 08:00 Berlin: the morning peak
        # after Berlin midnight on the DST nights: boards span two service dates and the clock change
        dt.datetime(2025, 10, 26, 1, tzinfo=dt.UTC),  # 02:00-03:00 CET, the hour that happens twice
        dt.datetime(2025, 3, 30, 1, tzinfo=dt.UTC),  # 03:00-04:00 CEST, just after the skipped hour
    ],
)
def test_http_path_gives_the_bulk_path_rows_at_the_same_instants(params, layout, source, start) -> None:
    end = start + dt.timedelta(hours=1)
    bulk_snaps, bulk_polls = bulk_interval(params, source, start, end, faults=False)
    bulk_snaps, bulk_polls = only(bulk_snaps, STATIONS), only(bulk_polls, STATIONS)
    assert bulk_polls.num_rows >= 3 * 15 and bulk_snaps.num_rows > 20
    poll_like_bulk(params, layout, source, bulk_polls)
    result = run(params, layout, start, end)
    assert result["polls"]["succeeded"] == bulk_polls.num_rows and result["records"]["quarantined"] == 0
    http_snaps = pq.read_table(layout.hour_file("snapshots", start))
    http_polls = pq.read_table(layout.hour_file("polls", start))
    assert http_snaps.num_rows == bulk_snaps.num_rows
    assert http_snaps.equals(bulk_snaps)
    assert http_polls.equals(bulk_polls)


def test_poller_against_the_faulty_simulator_accounts_for_every_attempt(params, layout, source) -> None:
    start = dt.datetime(2025, 9, 1, 7, 50, tzinfo=dt.UTC)
    wall = FakeClock(1_000_000.0)
    clock = SimClock(start, speed=1.0, monotonic=wall.time)  # simulated time follows the poller's clock
    script = ("ok", "5xx", "5xx", "ok", "slow", "ok", "truncated", "ok", "error200", "ok", "malformed", "ok")
    faults = FaultPlan(
        seed=4,
        error=0.1,
        burst=2,
        slow=0.0,  # one scripted slow answer: each costs a real timeout
        slow_s=2.5,
        truncate=0.03,
        error200=0.03,
        malformed=0.03,
        script=script,
    )
    handle = server_mod.start_server(params, clock=clock, source=source, faults=faults)
    plan = PollPlan(
        base_url=handle.url,
        stations=(*STATIONS, "Nowhere Hbf"),
        interval_min=1.0,
        rate_per_min=30.0,
        timeout_s=1.0,
        retries=3,
        backoff_s=1.0,
        clock="server",
        max_polls=40,
    )
    try:
        summary = Poller(
            plan, ArchiveWriter(layout.dataset("raw"), "p"), clock=wall.time, sleep=wall.sleep
        ).run()
    finally:
        handle.stop()
    assert summary["attempts"] == 40 and list(summary["dropped_stations"]) == ["Nowhere Hbf"]
    lines = [
        x
        for h in (start.replace(minute=0), start.replace(minute=0) + dt.timedelta(hours=1))
        for x in read_raw_hour(layout.dataset("raw"), h).lines
    ]
    replay = ArchiveWriter(layout.dataset("raw"), "replay")  # duplicated polls, delivered out of order
    for line in reversed(lines[3:6]):
        replay.append(line, dt.datetime.fromisoformat(line["poll_time"]))
    interval = (start.replace(minute=0), start.replace(minute=0) + dt.timedelta(hours=2))
    result = run(params, layout, *interval)
    ledger = json.loads(ledger_path(layout, *interval).read_text())
    assert check_ledger(ledger) == []
    kinds = faults.log
    reasons = ledger["reasons"]
    assert ledger["polls"]["attempted"] == len(kinds) + 3 == result["polls"]["attempted"]
    assert reasons["poll:http_503"] + reasons.get("poll:error_body", 0) >= kinds.count("5xx")
    assert reasons["poll:malformed_json"] == kinds.count("malformed")
    # every held-back answer times out; on a loaded machine a slow ordinary answer may time out too
    assert reasons["poll:network:timeout"] >= kinds.count("slow")
    assert reasons["poll:network:incomplete_read"] == kinds.count("truncated")
    assert ledger["records"]["duplicates"] > 0 and ledger["records"]["quarantined"] == 0
    digest = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(layout.root).rglob("*.parquet"))
    }
    run(params, layout, *interval)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in digest} == digest
