"""What the live tests share: six simulated hours of five Rhine-Ruhr boards polled over HTTP from the
simulator (failed polls, a poller restart with a gap, a duplicated and a late attempt), written to the
archive while the live scorer reads it, then the batch stages (ingest, validate, detect, build features)
over the same archive; a registry with champion 1 and challenger 2."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines import schema as s
from pipelines.config import load_params
from pipelines.detection import detect_departures
from pipelines.features import build_features
from pipelines.live.feed import ArchiveTail
from pipelines.live.scorer import LiveScorer
from pipelines.modeling import train
from pipelines.registry import tracking
from pipelines.serving.champion import load
from pipelines.sources import ingest
from pipelines.sources.dbf.archive import ArchiveWriter, make_line
from pipelines.sources.dbf.fetch import board_url, fetch
from pipelines.sources.dbf.pacing import server_time
from pipelines.sources.simulator import server as server_mod
from pipelines.sources.simulator.bulk import bulk_interval
from pipelines.sources.simulator.clock import fixed_clock
from pipelines.sources.simulator.source import network_source
from pipelines.timeutil import local_midnight_utc
from pipelines.validation import validate_snapshots
from tests.small_training import SMALL_SERVE, promote_passed, synthetic_store

STATIONS = ("Bochum Hbf", "Dortmund Hbf", "Duisburg Hbf", "Düsseldorf Hbf", "Essen Hbf")
DAY = dt.date(2025, 9, 2)
START = local_midnight_utc(DAY) + dt.timedelta(hours=5)     # 05:00 Berlin
END = START + dt.timedelta(hours=6)
RESTART = START + dt.timedelta(hours=3)                     # the poller dies here, back 10 minutes later


def archive_lines(params, source):
    """(poll time, line) of every attempt, as the poller would archive them; failed polls as errors."""
    _, polls = bulk_interval(params, source, START, END)
    clock = fixed_clock(START)
    handle = server_mod.start_server(params, clock=clock, source=source)
    out = []
    try:
        for row in sorted(polls.to_pylist(), key=lambda r: (r[s.POLL_TIME], r[s.STATION])):
            if RESTART <= row[s.POLL_TIME] < RESTART + dt.timedelta(minutes=10):
                continue
            url = board_url(handle.url, row[s.STATION])
            if row[s.POLL_STATUS] != "ok":
                out.append(make_line(row[s.STATION], url, row[s.POLL_TIME], None, None, None, "timed out"))
                continue
            clock.set(row[s.POLL_TIME])
            got = fetch(url, 10.0, params.ingest.max_body_bytes)
            at = server_time(got.date_header)
            out.append(make_line(row[s.STATION], url, at, got.status, got.date_header, got.body, got.error))
    finally:
        handle.stop()
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A registry with champion 1 and challenger 2, the archive written while the scorer reads it, then
    the batch stages over the same archive."""
    with synthetic_store(tmp_path_factory, "live", SMALL_SERVE, 5, 600, first=dt.date(2025, 8, 1)) as (
            params, layout, as_of):
        train.run(params, layout, as_of, {"kind": "bootstrap"})
        weak = load_params(overrides={**SMALL_SERVE, "train.num_boost_round": 8})
        train.run(weak, layout, as_of, {"kind": "manual", "reason": "challenger"})
        promote_passed(params, layout, "1", None, as_of)
        tracking.set_alias(layout, tracking.CHALLENGER, "2")
        models = (load(layout, "1"), load(layout, "2"))
        source = network_source(params)
        source.names = sorted(STATIONS)
        lines = archive_lines(params, source)
        raw = layout.dataset("raw")
        tail = ArchiveTail([raw], START)
        scorer = LiveScorer(params, layout, lambda: models)
        writer = ArchiveWriter(raw, "a")
        late = None
        for i, line in enumerate(lines):
            at = dt.datetime.fromisoformat(line["poll_time"])
            if writer.writer_id == "a" and at >= RESTART:
                writer = ArchiveWriter(raw, "b")      # the restarted poller, which sends two attempts again
                for again in lines[i - 2:i]:
                    writer.append(again, dt.datetime.fromisoformat(again["poll_time"]))
            if i == 100:
                late = line                           # this attempt reaches the archive 3 attempts late
                continue
            writer.append(line, at)
            if i == 103:
                writer.append(late, dt.datetime.fromisoformat(late["poll_time"]))
            if i % len(STATIONS) == 0:                # the scorer reads once per round of polls
                for got in tail.read():
                    scorer.add(got)
                scorer.step(dt.datetime.now(dt.UTC))
        for got in tail.read():
            scorer.add(got)
        scorer.step(dt.datetime.now(dt.UTC), clock=END)   # the batch sees the whole window: so does this
        first, last = START.replace(minute=0), END + dt.timedelta(hours=1)
        ingest.run(params, layout, first, last)
        validate_snapshots.run(params, layout, DAY)
        detect_departures.run(params, layout, DAY)
        build_features.run(params, layout, DAY)
        yield {"params": params, "layout": layout, "scorer": scorer, "models": models}
