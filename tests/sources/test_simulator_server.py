"""The simulator's HTTP server on loopback: DBF v3 routes, errors, the Date header, the clock and faults."""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from test_simulator_boards import at, make_truth

from pipelines.config import Params, load_params
from pipelines.sources.simulator.boards import board_departures
from pipelines.sources.simulator.clock import ManualTime, SimClock, fixed_clock
from pipelines.sources.simulator.faults import FaultPlan, parse_faults
from pipelines.sources.simulator.server import ServerHandle, start_server
from pipelines.sources.simulator.source import frame_source

pytestmark = pytest.mark.integration


@pytest.fixture()
def server(params: Params) -> Iterator[ServerHandle]:
    names = ["Aachen Hbf", "Bonn Hbf", "Bonn-Beuel", "Düren", "Köln Hbf"]
    source = frame_source(make_truth(), 180, names)
    handle = start_server(params, port=0, clock=fixed_clock(at("08:25")), source=source)
    yield handle
    handle.stop()


def get(url: str, timeout: float = 5) -> tuple[int, dict, http.client.HTTPMessage]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers


def test_board_by_name_eva_style_json_suffix_and_filters(server: ServerHandle) -> None:
    expected = board_departures(make_truth(), "Bonn Hbf", at("08:25"))
    status, doc, headers = get(f"{server.url}/{urllib.parse.quote('Bonn Hbf')}?mode=json&version=3")
    assert status == 200 and doc == {"departures": expected} and len(expected) == 2
    assert get(f"{server.url}/{urllib.parse.quote('Bonn Hbf')}.json")[1] == doc
    assert email.utils.parsedate_to_datetime(headers["Date"]) == at("08:25")
    status, doc, _ = get(f"{server.url}/{urllib.parse.quote('Aachen Hbf')}?mode=json&admode=arr&limit=1")
    assert [d["train"] for d in doc["departures"]] == ["RE 7"]


def test_errors_follow_dbf(server: ServerHandle) -> None:
    status, doc, _ = get(f"{server.url}/Bonn%20Hbf?mode=json&version=2")
    assert status == 500 and doc == {"error": "JSON API version=2 is no longer supported"}
    status, doc, _ = get(f"{server.url}/Berlin?mode=json")
    assert status == 300 and doc == {"error": "Got no results for 'Berlin'"}
    status, doc, _ = get(f"{server.url}/D%C3%BC?mode=json")  # a unique prefix: Düren
    assert status == 200 and [(d["train"], d["isCancelled"]) for d in doc["departures"]] == [("RE 7", 1)]
    status, doc, _ = get(f"{server.url}/Bonn?mode=json")
    assert status == 300 and doc == {
        "error": "ambiguous station code/name",
        "candidates": ["Bonn Hbf", "Bonn-Beuel"],
    }


def test_date_header_follows_a_running_clock(params: Params) -> None:
    ticks = ManualTime()
    clock = SimClock(at("08:00"), speed=60, monotonic=ticks)
    handle = start_server(params, clock=clock, source=frame_source(make_truth(), 180))
    try:
        ticks.advance(30)  # 30 s real = 30 min simulated
        status, doc, headers = get(f"{handle.url}/Bonn%20Hbf")
        assert email.utils.parsedate_to_datetime(headers["Date"]) == at("08:30")
        assert doc == {"departures": board_departures(make_truth(), "Bonn Hbf", at("08:30"))}
        clock.set(at("08:39"))
        assert [d["train"] for d in get(f"{handle.url}/Bonn%20Hbf")[1]["departures"]] == ["RE 7"]
    finally:
        handle.stop()


def raw_get(url: str, path: str, timeout: float = 5) -> tuple[int, bytes]:
    """Status and body as received, tolerating short bodies."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        try:
            return resp.status, resp.read()
        except http.client.IncompleteRead as exc:
            return resp.status, exc.partial
    finally:
        conn.close()


def test_scripted_faults(params: Params) -> None:
    plan = FaultPlan(script=("5xx", "error200", "malformed", "truncated", "slow", "ok"), slow_s=1.5)
    handle = start_server(
        params, clock=fixed_clock(at("08:25")), faults=plan, source=frame_source(make_truth(), 180)
    )
    try:
        path = "/Bonn%20Hbf?mode=json"
        status, body = raw_get(handle.url, path)
        assert status == 503 and "error" in json.loads(body)
        status, body = raw_get(handle.url, path)
        assert status == 200 and "error" in json.loads(body)
        status, body = raw_get(handle.url, path)
        assert status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
        status, body = raw_get(handle.url, path)
        assert status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
        with pytest.raises((TimeoutError, socket.timeout)):
            raw_get(handle.url, path, timeout=0.5)
        status, body = raw_get(handle.url, path)
        assert status == 200 and "departures" in json.loads(body)
        assert plan.log == ["5xx", "error200", "malformed", "truncated", "slow", "ok"]
    finally:
        handle.stop()


def test_random_faults_are_deterministic_and_bursty() -> None:
    def kinds(seed: int) -> list[str]:
        plan = FaultPlan(
            seed=seed, error=0.2, burst=3, slow=0.05, truncate=0.05, error200=0.05, malformed=0.05
        )
        return [plan.next_kind() for _ in range(2000)]

    first = kinds(1)
    assert first == kinds(1) and first != kinds(2)
    share = {k: first.count(k) / len(first) for k in set(first)}
    assert 0.14 < share["5xx"] < 0.26 and 0.03 < share["slow"] < 0.07
    runs = "".join("x" if k == "5xx" else "." for k in first).split(".")
    assert all(len(r) % 3 == 0 for r in runs)  # bursts of 3 (adjacent bursts merge)
    plan = parse_faults("error=0.1,burst=2,slow=0.01,slow_s=12,script=ok+5xx", seed=4)
    assert (plan.error, plan.burst, plan.slow_s, plan.script, plan.seed) == (0.1, 2, 12.0, ("ok", "5xx"), 4)
    assert parse_faults("none") is None
    assert parse_faults("default", load_params().simulation.faults).error == 0.05


def test_clock_speed_and_jump() -> None:
    ticks = ManualTime(100.0)
    clock = SimClock("2025-09-01T06:00:00Z", speed=2.0, monotonic=ticks)
    ticks.advance(90)
    assert clock.now() == dt.datetime(2025, 9, 1, 6, 3, tzinfo=dt.UTC)
    clock.set("2025-09-02T00:00:00+00:00")
    ticks.advance(1)
    assert clock.now() == dt.datetime(2025, 9, 2, 0, 0, 2, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        SimClock("2025-09-01T00:00:00Z", speed=-1)


def test_serve_command_answers_eva_and_ds100(params: Params) -> None:
    import argparse
    import threading

    from pipelines.sources.simulator.cli import serve

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = argparse.Namespace(
        host="127.0.0.1",
        port=port,
        start="2025-09-01T12:00:00Z",
        speed=0.0,
        scenario=None,
        faults="script=5xx",
    )
    stop, result = threading.Event(), {}
    thread = threading.Thread(target=lambda: result.update(serve(args, params, stop)))
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):  # until it listens
            try:
                status, doc, _ = get(f"{url}/8000098?mode=json&version=3")
                break
            except urllib.error.URLError:
                threading.Event().wait(0.1)
        assert status == 503 and "error" in doc  # the scripted first request
        status, essen, headers = get(f"{url}/8000098?mode=json&version=3")
        assert status == 200 and len(essen["departures"]) > 5
        assert get(f"{url}/EE.json")[1] == essen == get(f"{url}/{urllib.parse.quote('Essen Hbf')}")[1]
        assert email.utils.parsedate_to_datetime(headers["Date"]) == dt.datetime(
            2025, 9, 1, 12, tzinfo=dt.UTC
        )
    finally:
        stop.set()
        thread.join(timeout=10)
    assert result["faults"] == ["5xx", "ok", "ok", "ok"]
