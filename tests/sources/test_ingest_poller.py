"""The poller over real HTTP on loopback: rate limits, retries, configuration errors, clocks, stopping."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_ingest_fixtures import CannedBoards, FakeClock, board, dep

from pipelines.cli import main as cli_main
from pipelines.config import PROJECT_ROOT
from pipelines.errors import StageError
from pipelines.sources.dbf.archive import ArchiveWriter, read_raw_hour
from pipelines.sources.dbf.dbf import normalize_board
from pipelines.sources.dbf.pacing import TokenBucket, check_plan
from pipelines.sources.dbf.poller import Poller, PollPlan

pytestmark = pytest.mark.integration

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.UTC).timestamp()
OK = (200, board(dep()), {})


@pytest.fixture()
def serve():
    servers = []

    def start(script):
        servers.append(CannedBoards(script))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def make_poller(tmp_path: Path, url: str, stations, fake: FakeClock, **plan) -> Poller:
    plan = {"timeout_s": 2.0, "backoff_s": 1.0, "retries": 3, **plan}
    return Poller(
        PollPlan(base_url=url, stations=tuple(stations), **plan),
        ArchiveWriter(tmp_path, "t"),
        clock=fake.time,
        sleep=fake.sleep,
    )


def archived(tmp_path: Path) -> list[dict]:
    hours = sorted(p.name for p in tmp_path.iterdir())
    lines = []
    for key in hours:
        lines += read_raw_hour(
            tmp_path, dt.datetime.strptime(key, "%Y-%m-%dT%H").replace(tzinfo=dt.UTC)
        ).lines
    return lines


def test_plans_the_rate_limit_cannot_carry_are_refused_with_the_fix() -> None:
    with pytest.raises(StageError, match=r"31 stations every 3 min need 10.3 requests/min.*at most 30.*3.1"):
        check_plan(31, 3.0, 10.0)
    check_plan(30, 3.0, 10.0)
    with pytest.raises(StageError, match="below 1 minute"):
        check_plan(1, 0.5, 10.0)


def test_cli_refuses_an_infeasible_station_list_before_any_request(serve, tmp_path, capsys) -> None:
    server = serve({})
    stations = ",".join(f"S{i}" for i in range(11))
    code = cli_main(
        [
            "ingest",
            "poll",
            "--home",
            str(tmp_path),
            "--base-url",
            server.url,
            "--stations",
            stations,
            "--interval-min",
            "1",
            "--max-polls",
            "3",
        ]
    )
    assert code == 1
    assert "11 stations every 1 min need 11.0 requests/min" in capsys.readouterr().err
    assert server.requests == [] and not (tmp_path / "raw").exists()


def test_no_retry_on_300_the_station_is_dropped_and_others_continue(serve, tmp_path) -> None:
    ambiguous = (300, '{"error": "ambiguous station code/name", "candidates": [{"name": "Essen Hbf"}]}', {})
    server = serve({"Essen": [ambiguous], "Hamm": [OK]})
    clock = FakeClock(T0)
    summary = make_poller(
        tmp_path, server.url, ["Essen", "Hamm"], clock, interval_min=1.0, rate_per_min=10.0, max_polls=5
    ).run()
    assert server.count("Essen") == 1 and server.count("Hamm") == 4
    assert list(summary["dropped_stations"]) == ["Essen"] and summary["config_error"] == 1
    assert summary.get("retries", 0) == 0


def test_unknown_station_error_body_with_status_200_is_a_configuration_error(serve, tmp_path) -> None:
    server = serve({"Nowhere": [(200, '{"error": "Unknown station name"}', {})]})
    summary = make_poller(tmp_path, server.url, ["Nowhere"], FakeClock(T0), max_polls=5).run()
    assert server.count("Nowhere") == 1 and summary["stopped_by"] == "no_stations_left"


def test_5xx_burst_is_retried_with_seeded_exponential_backoff(serve, tmp_path) -> None:
    burst = [(500, '{"error": "internal"}', {}), (503, "<html>busy</html>", {}), (502, "", {}), OK]
    server = serve({"Hamm": burst})
    clock = FakeClock(T0)
    summary = make_poller(
        tmp_path / "a", server.url, ["Hamm"], clock, rate_per_min=600.0, max_polls=4, seed=3
    ).run()
    assert server.count("Hamm") == 4 and summary["retries"] == 3 and summary["ok"] == 1
    backoffs = [d for d in clock.sleeps if d > 0.2]
    assert len(backoffs) == 3
    for k, wait in enumerate(backoffs):  # 1, 2, 4 s, each times a jitter in [0.5, 1.5)
        assert 0.5 * 2**k <= wait < 1.5 * 2**k
    again = FakeClock(T0)
    make_poller(
        tmp_path / "b",
        serve({"Hamm": list(burst)}).url,
        ["Hamm"],
        again,
        rate_per_min=600.0,
        max_polls=4,
        seed=3,
    ).run()
    assert again.sleeps == clock.sleeps  # the jitter is reproducible
    assert [line["status"] for line in archived(tmp_path / "a")] == [500, 503, 502, 200]


def test_timeouts_and_cut_bodies_are_network_errors_that_are_retried(serve, tmp_path) -> None:
    server = serve({"Hamm": [(200, board(dep()), {"sleep": 0.6}), (200, board(dep()), {"cut": 20}), OK]})
    summary = make_poller(tmp_path, server.url, ["Hamm"], FakeClock(T0), timeout_s=0.3, max_polls=3).run()
    lines = archived(tmp_path)
    assert [line["error"] for line in lines] == ["timeout", "incomplete_read", None]
    assert lines[1]["body"] and not lines[2]["error"] and summary["retries"] == 2


def test_gives_up_after_the_configured_retries_and_keeps_polling_later(serve, tmp_path) -> None:
    server = serve({"Hamm": [(500, "{}", {})] * 3 + [OK]})
    summary = make_poller(
        tmp_path, server.url, ["Hamm"], FakeClock(T0), retries=1, max_polls=4, rate_per_min=600.0
    ).run()
    assert summary["failed"] == 1 and server.count("Hamm") == 4


def test_global_rate_limit_spaces_requests_and_intervals_are_kept(serve, tmp_path) -> None:
    server = serve({f"S{i}": [OK] for i in range(6)})
    clock = FakeClock(T0)
    make_poller(
        tmp_path,
        server.url,
        [f"S{i}" for i in range(6)],
        clock,
        interval_min=1.0,
        rate_per_min=6.0,
        max_polls=18,
    ).run()
    times = [dt.datetime.fromisoformat(line["poll_time"]).timestamp() for line in archived(tmp_path)]
    gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
    assert len(times) == 18 and min(gaps) >= 10.0 - 1e-6  # 6 per minute
    per_station: dict[str, list[float]] = {}
    for line, t in zip(archived(tmp_path), times, strict=True):
        per_station.setdefault(line["station"], []).append(t)
    assert all(b - a >= 60.0 - 1e-6 for ts in per_station.values() for a, b in zip(ts, ts[1:], strict=False))


def test_token_bucket_allows_one_request_per_slot() -> None:
    bucket = TokenBucket(10.0, now=0.0)
    assert bucket.wait_s(0.0) == 0.0
    bucket.take(0.0)
    assert bucket.wait_s(1.0) == pytest.approx(5.0)
    assert bucket.wait_s(6.0) == 0.0


def test_server_clock_uses_the_date_header_and_carries_its_offset_over_failures(serve, tmp_path) -> None:
    simulated = dt.datetime(2025, 3, 30, 0, 59, 30, tzinfo=dt.UTC)
    server = serve({"Hamm": [OK, (200, "{}", {"sleep": 0.6}), OK]})
    server.date_for = lambda: email.utils.format_datetime(simulated, usegmt=True)
    clock = FakeClock(T0)
    make_poller(
        tmp_path,
        server.url,
        ["Hamm"],
        clock,
        clock="server",
        timeout_s=0.3,
        max_polls=2,
        rate_per_min=600.0,
        backoff_s=0.5,
    ).run()
    first, second = archived(tmp_path)
    assert first["poll_time"] == simulated.isoformat() and first["date_header"].endswith("GMT")
    assert second["error"] == "timeout"
    # no Date header on a timeout: the last server offset is carried over (no 2026 instants appear)
    assert dt.datetime.fromisoformat(second["poll_time"]) - simulated == dt.timedelta(minutes=3)


def test_station_names_are_url_encoded_and_eva_numbers_allowed(serve, tmp_path) -> None:
    names = ["Köln Hbf", "Frankfurt (Main) Hbf", "8000098", "A/B?c"]
    server = serve({n: [OK] for n in names})
    make_poller(tmp_path, server.url, names, FakeClock(T0), rate_per_min=600.0, max_polls=4).run()
    assert sorted(s for s, _ in server.requests) == sorted(names)
    paths = dict(server.requests)
    assert paths["Köln Hbf"] == "/K%C3%B6ln%20Hbf?mode=json&version=3"
    assert paths["A/B?c"].startswith("/A%2FB%3Fc?")


def test_connection_refused_is_archived_as_a_failed_attempt(tmp_path) -> None:
    server = CannedBoards({})
    url = server.url
    server.stop()  # nothing listens on this port any more
    summary = make_poller(tmp_path, url, ["Hamm"], FakeClock(T0), retries=1, max_polls=2).run()
    assert summary["failed"] == 1
    assert all(line["error"] and line["status"] is None for line in archived(tmp_path))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_poll_command_stops_cleanly_on_a_signal(serve, tmp_path, sig) -> None:
    server = serve({"Hamm": [OK]})
    cmd = [
        sys.executable,
        "-m",
        "pipelines",
        "ingest",
        "poll",
        "--home",
        str(tmp_path),
        "--base-url",
        server.url,
        "--stations",
        "Hamm",
        "--interval-min",
        "1",
        "--writer-id",
        "sig",
    ]
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while server.count("Hamm") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.count("Hamm") == 1
        time.sleep(0.2)  # let the archive write finish; the poller now sleeps a minute until the next poll
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["stopped_by"] == "signal" and summary["attempts"] == 1 and summary["writer"] == "sig"
    assert len(archived(tmp_path / "raw")) == 1


def test_an_oversized_board_is_read_only_past_the_limit_and_later_quarantined(serve, tmp_path) -> None:
    big = board(*[dep(trainNumber=str(n)) for n in range(50)])
    server = serve({"Hamm": [(200, big, {})]})
    make_poller(tmp_path, server.url, ["Hamm"], FakeClock(T0), max_polls=1, max_body_bytes=1000).run()
    (line,) = archived(tmp_path)
    assert line["error"] is None and len(line["body"].encode()) == 1001  # one byte past the limit, no more
    result = normalize_board(
        line["body"], "Hamm", dt.datetime.fromisoformat(line["poll_time"]), max_body_bytes=1000
    )
    assert result.body_reason == "oversized"


def test_an_accelerated_server_clock_is_polled_at_its_own_pace(serve, tmp_path) -> None:
    server = serve({"A": [OK], "B": [OK]})
    clock = FakeClock(T0)
    simulated = dt.datetime(2025, 9, 1, 5, 0, tzinfo=dt.UTC)   # a simulator at 60x the poller's clock
    server.date_for = lambda: email.utils.format_datetime(
        simulated + dt.timedelta(seconds=60 * (clock.time() - T0)), usegmt=True)
    make_poller(tmp_path, server.url, ["A", "B"], clock, clock="server", speed=60.0, interval_min=3.0,
                rate_per_min=10.0, max_polls=8).run()
    by_station: dict[str, list[dt.datetime]] = {}
    for line in archived(tmp_path):
        by_station.setdefault(line["station"], []).append(dt.datetime.fromisoformat(line["poll_time"]))
    gaps = {(b - a).total_seconds() for ts in by_station.values() for a, b in zip(ts, ts[1:], strict=False)}
    assert sorted(by_station) == ["A", "B"] and gaps == {180.0}   # every 3 minutes of the server's time
    assert clock.time() - T0 == pytest.approx(3 * 3.0 + 1.5)        # 3 s of the poller's per round


def test_speed_needs_the_server_clock() -> None:
    with pytest.raises(StageError, match="--clock server"):
        Poller(PollPlan(base_url="http://127.0.0.1:9", stations=("A",), speed=60.0),
               ArchiveWriter("/tmp", "x"))


def test_a_redirect_to_another_host_is_refused_and_drops_the_station(serve, tmp_path) -> None:
    """SSRF: a board server must not make the poller fetch another service into the archive."""
    inside = serve({"Secret": [(200, '{"token": "internal"}', {})]})   # another local service
    board = serve({"Hamm": [(302, "", {"location": f"{inside.url}/Secret"})],
                   "Old": [(301, "", {"location": "/Unna"})], "Unna": [OK]})
    summary = make_poller(tmp_path, board.url, ["Hamm", "Old"], FakeClock(T0), max_polls=4,
                          rate_per_min=600.0).run()
    assert inside.count("Secret") == 0 and list(summary["dropped_stations"]) == ["Hamm"]
    lines = {line["station"]: line for line in archived(tmp_path)}
    assert lines["Hamm"]["error"].startswith("redirect_refused: 302 to http://127.0.0.1:")
    assert "internal" not in json.dumps(archived(tmp_path))
    assert lines["Old"]["status"] == 200 and board.count("Unna") >= 1   # same host: followed


def test_a_host_outside_the_allowlist_is_refused_before_any_request(tmp_path, serve) -> None:
    """ingest.allowed_hosts pins the board host: a base URL elsewhere (a typo, or an attempt to point
    the poller at an internal service) is refused before any request; a listed host polls."""
    board = serve({"Hamm": [OK]})
    with pytest.raises(StageError, match="not in ingest.allowed_hosts"):
        Poller(PollPlan(base_url=board.url, stations=("Hamm",), allowed_hosts=("dbf.example.org",)),
               ArchiveWriter(tmp_path, "x"))
    assert board.count("Hamm") == 0
    allowed = make_poller(tmp_path, board.url, ["Hamm"], FakeClock(T0), max_polls=1,
                          allowed_hosts=("dbf.example.org", "127.0.0.1"))
    assert allowed.run()["ok"] == 1 and board.count("Hamm") == 1


@pytest.mark.parametrize("base_url", ["file:///etc", "ftp://127.0.0.1/", "http://", "gopher://x"])
def test_a_base_url_that_is_not_http_is_refused_before_any_request(base_url) -> None:
    with pytest.raises(StageError, match="http:// or https://"):
        Poller(PollPlan(base_url=base_url, stations=("A",)), ArchiveWriter("/tmp", "x"))



FULL_DISK = r"""
import datetime as dt, json, resource, signal, sys
from pathlib import Path
sys.path.insert(0, "tests/sources")
from test_ingest_fixtures import CannedBoards, FakeClock, board, dep
from pipelines.sources.dbf.archive import ArchiveWriter, raw_dir, read_raw_hour
from pipelines.sources.dbf.poller import Poller, PollPlan

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # past the size limit a write fails (EFBIG), as on a full disk
raw, start = Path(sys.argv[1]), dt.datetime(2025, 9, 1, 7, 0, tzinfo=dt.UTC)
server = CannedBoards({"Hamm": [(200, board(dep(trainNumber="1")), {})]})
clock = FakeClock(start.timestamp())
plan = PollPlan(base_url=server.url, stations=("Hamm",), interval_min=3.0, rate_per_min=10.0, timeout_s=2.0,
                retries=0, backoff_s=1.0, clock="wall", max_polls=12)
poller = Poller(plan, ArchiveWriter(raw, "poller-a"), clock=clock.time, sleep=lambda s: disk(s))
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
file = raw_dir(raw, start) / "poller-a.jsonl.gz"

def disk(seconds):
    clock.sleep(seconds)
    done = poller.counts["attempts"]
    if done == 3:     # the disk fills: room for a piece of one more member only
        resource.setrlimit(resource.RLIMIT_FSIZE, (file.stat().st_size + 10, hard))
    if done == 8:     # space is back
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))

try:
    result = poller.run()
finally:
    server.stop()
read = read_raw_hour(raw, start)
print(json.dumps({"result": {k: v for k, v in result.items() if k != "dropped_stations"},
                  "lines": [line["poll_time"] for line in read.lines], "torn": read.truncated_members}))
"""


def test_a_full_disk_holds_attempts_in_memory_and_writes_them_when_space_is_back(tmp_path):
    """Before, the first write error (ENOSPC) ended the poller, and a cut member stayed in its file."""
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path / "raw")], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    result = out["result"]
    assert result["attempts"] == 12 and result["archive_write_errors"] >= 4
    assert result["archive_written_late"] >= 4 and result.get("archive_lost", 0) == 0
    assert out["torn"] == 0, "a failed write is cut back, never left as a torn member"
    assert len(out["lines"]) == 12 and out["lines"] == sorted(out["lines"]), "every attempt, in poll order"
    assert "cannot write the raw archive" in done.stderr and "writable again" in done.stderr
