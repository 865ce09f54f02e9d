"""The bulk path equals polling over HTTP; the poll schedule; the `simulate` stage and its CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_simulator_boards import at, make_truth

from pipelines import schema as s
from pipelines.cli import main as cli_main
from pipelines.config import FaultProfile, Params
from pipelines.errors import StageError
from pipelines.sources.dbf.dbf import normalize_board
from pipelines.sources.simulate import run
from pipelines.sources.simulator.boards import board_departures
from pipelines.sources.simulator.bulk import bulk_interval, poll_schedule
from pipelines.sources.simulator.clock import fixed_clock
from pipelines.sources.simulator.forecast import prepare
from pipelines.sources.simulator.server import start_server
from pipelines.sources.simulator.source import TruthSource, frame_source, network_source
from pipelines.storage import Layout
from pipelines.timeutil import UTC

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parent.parent


def http_snapshots(source: TruthSource, params: Params, polls: pa.Table) -> pa.Table:
    """What ingest makes of the same polls made over HTTP: our server's JSON through its normalizer."""
    handle = start_server(params, clock=fixed_clock(at("06:00")), source=source)
    tables = []
    try:
        for station, poll_time in zip(
            polls[s.STATION].to_pylist(), polls[s.POLL_TIME].to_pylist(), strict=True
        ):
            handle.clock.set(poll_time)
            url = f"{handle.url}/{urllib.parse.quote(station)}?mode=json&version=3"
            with urllib.request.urlopen(url, timeout=10) as resp:
                board = normalize_board(resp.read(), station, poll_time)
            assert board.body_reason is None and not board.quarantined and not board.duplicates
            tables.append(board.table)
    finally:
        handle.stop()
    table = pa.concat_tables(tables)
    return table.sort_by([(k, "ascending") for k in s.SNAPSHOT_KEY])


def test_http_path_equals_bulk_path_on_hand_made_truth(params: Params) -> None:
    source = frame_source(make_truth(), params.simulation.board_lookahead_min)
    snapshots, polls = bulk_interval(params, source, at("07:30"), at("09:30"), faults=True)
    ok = polls.filter(pa.compute.equal(polls[s.POLL_STATUS], "ok"))
    assert 0 < ok.num_rows < polls.num_rows and snapshots.num_rows > 100
    assert http_snapshots(source, params, ok).equals(snapshots)


def test_http_path_equals_bulk_path_on_the_truth_engine(params: Params) -> None:
    source = network_source(params)
    start = dt.datetime(2025, 9, 1, 15, tzinfo=UTC)
    snapshots, polls = bulk_interval(params, source, start, start + dt.timedelta(minutes=30))
    picked = ["Bonn Hbf", "Köln Hbf", "Frankfurt(Main) Hbf", "Holzwickede"]
    mask = pa.compute.is_in(polls[s.STATION], pa.array(picked))
    ok = polls.filter(pa.compute.and_(mask, pa.compute.equal(polls[s.POLL_STATUS], "ok")))
    expected = snapshots.filter(pa.compute.is_in(snapshots[s.STATION], pa.array(picked)))
    assert ok.num_rows >= 30 and expected.num_rows > 300
    assert http_snapshots(source, params, ok).equals(expected)
    assert sum(ok[s.POLL_RECORDS].to_pylist()) == expected.num_rows


def test_bulk_rows_match_board_objects_field_by_field(params: Params) -> None:
    truth = make_truth()
    source = frame_source(truth, 180)
    snapshots, _ = bulk_interval(params, source, at("07:50"), at("08:50"), faults=False)
    prep = prepare(truth, 180)
    rows = snapshots.to_pylist()
    assert len(rows) > 50
    for row in rows[::7]:
        objs = {d["trainNumber"]: d for d in board_departures(prep, row[s.STATION], row[s.POLL_TIME])}
        obj = objs[row[s.TRAIN_NUMBER]]
        local = {
            k: row[c].astimezone(at("00:00").tzinfo).strftime("%H:%M") if row[c] else None
            for k, c in (
                ("scheduledArrival", s.SCHEDULED_ARRIVAL),
                ("scheduledDeparture", s.SCHEDULED_DEPARTURE),
            )
        }
        assert (obj["train"], "".join(obj["trainClasses"]), obj["destination"]) == (
            row[s.TRAIN],
            row[s.TRAIN_CLASSES],
            row[s.DESTINATION],
        )
        assert (obj["platform"], obj["scheduledPlatform"]) == (row[s.PLATFORM], row[s.SCHEDULED_PLATFORM])
        assert (obj["scheduledArrival"], obj["scheduledDeparture"]) == (
            local["scheduledArrival"],
            local["scheduledDeparture"],
        )
        assert (obj["delayArrival"], obj["delayDeparture"]) == (row[s.DELAY_ARRIVAL], row[s.DELAY_DEPARTURE])
        assert (
            bool(obj["isCancelled"]) == row[s.IS_CANCELLED]
            and obj["missingRealtime"] == row[s.MISSING_REALTIME]
        )
        assert "|".join(r["name"] for r in obj["route"]) == row[s.ROUTE]
        assert "|".join(obj["via"]) == row[s.VIA]
        assert "|".join(r["name"] for r in obj["route"] if r.get("isCancelled")) == row[s.CANCELLED_STOPS]
        assert len(obj["messages"]["delay"]) == len([c for c in row[s.REASON_CODES].split(",") if c])


def test_poll_schedule_is_fixed_per_station_and_split_invariant(params: Params) -> None:
    faults = FaultProfile(failed_poll_share=0.2, jitter_s=30)
    names = [f"Station {i}" for i in range(5)]
    start = dt.datetime(2025, 9, 1, 4, tzinfo=UTC)
    whole = poll_schedule(names, start, start + dt.timedelta(hours=6), 3, 7, faults)
    parts = [
        poll_schedule(names, start + dt.timedelta(hours=h), start + dt.timedelta(hours=h + 1), 3, 7, faults)
        for h in range(6)
    ]
    import pandas as pd

    joined = pd.concat(parts).sort_values([s.STATION, "poll_s"]).reset_index(drop=True)
    assert whole.sort_values([s.STATION, "poll_s"]).reset_index(drop=True).equals(joined)
    gaps = whole.groupby(s.STATION)["poll_s"].diff().dropna()
    assert gaps.between(180 - 60, 180 + 60).all() and abs(gaps.mean() - 180) < 3
    assert 0.14 < whole["failed"].mean() < 0.26
    calm = poll_schedule(names, start, start + dt.timedelta(hours=6), 3, 7, None)
    assert (calm.groupby(s.STATION)["poll_s"].diff().dropna() == 180).all() and not calm["failed"].any()
    assert not poll_schedule(names, start, start + dt.timedelta(hours=1), 3, 8, faults).equals(parts[0])


def test_simulate_stage_writes_partitions_byte_identical(params: Params, layout: Layout) -> None:
    source = frame_source(make_truth(), 180)
    start, end = at("08:00").astimezone(UTC), at("10:00").astimezone(UTC)
    first = run(params, layout, start, end, source=source)
    files = sorted(p for p in layout.root.rglob("*.parquet"))
    assert [p.relative_to(layout.root).as_posix() for p in files] == [
        "polls/2025-09-01T06.parquet",
        "polls/2025-09-01T07.parquet",
        "snapshots/2025-09-01T06.parquet",
        "snapshots/2025-09-01T07.parquet",
        "truth/2025-09-01.parquet",
    ]
    snap = pq.read_table(layout.hour_file("snapshots", start))
    assert snap.schema == s.SNAPSHOT_SCHEMA and snap.num_rows > 0
    assert snap.equals(snap.sort_by([(k, "ascending") for k in s.SNAPSHOT_KEY]))
    polls = pq.read_table(layout.hour_file("polls", start))
    assert polls.schema == s.POLLS_SCHEMA and sum(polls[s.POLL_RECORDS].to_pylist()) == snap.num_rows
    assert (
        first["snapshots"]
        == snap.num_rows + pq.read_table(layout.hour_file("snapshots", end - dt.timedelta(hours=1))).num_rows
    )
    before = {p: p.read_bytes() for p in files}
    assert run(params, layout, start, end, source=frame_source(make_truth(), 180)) == first
    assert {p: p.read_bytes() for p in files} == before


def test_cli_simulates_an_hour_and_lists_stations(params: Params, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pipelines",
        "simulate",
        "--home",
        str(tmp_path),
        "--start",
        "2025-09-01T06:00Z",
        "--end",
        "2025-09-01T07:00Z",
        "--scenario",
        "strike",
    ]
    done = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert (
        result["scenario"] == "strike"
        and result["snapshots"] > 1000
        and result["truth_days"] == ["2025-09-01"]
    )
    assert "simulate 2025-09-01:" in done.stderr
    layout = Layout(params, tmp_path)
    assert (
        pq.read_table(layout.hour_file("snapshots", dt.datetime(2025, 9, 1, 6, tzinfo=UTC))).num_rows
        == result["snapshots"]
    )


def test_simulator_stations_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["simulator", "stations"]) == 0
    names = capsys.readouterr().out.splitlines()
    assert len(names) > 20 and "Köln Hbf" in names and names == sorted(names)


def test_stage_refuses_an_empty_interval(params: Params, layout: Layout) -> None:
    with pytest.raises(StageError, match="empty interval"):
        run(params, layout, at("08:00"), at("08:00"), source=frame_source(make_truth(), 180))
    assert not list(layout.root.rglob("*.parquet"))


def test_parallel_workers_write_the_same_bytes(tmp_path: Path) -> None:
    """Days split over processes give the files one process gives (here across Berlin midnight)."""
    from pipelines.config import load_params
    from pipelines.sources.simulate import run_parallel
    from pipelines.storage import Layout

    params = load_params()
    start, end = dt.datetime(2025, 10, 25, 20, tzinfo=dt.UTC), dt.datetime(2025, 10, 26, 1, tzinfo=dt.UTC)
    one, two = Layout(params, tmp_path / "one"), Layout(params, tmp_path / "two")
    run_parallel(params, one, start, end, workers=1)
    result = run_parallel(params, two, start, end, workers=2)
    assert result["workers"] == 2 and result["truth_days"] == ["2025-10-25", "2025-10-26"]
    files = sorted(p.relative_to(one.root) for p in one.root.rglob("*.parquet"))
    assert files == sorted(p.relative_to(two.root) for p in two.root.rglob("*.parquet")) and files
    assert all((one.root / f).read_bytes() == (two.root / f).read_bytes() for f in files)
