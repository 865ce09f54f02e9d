"""The detect_departures stage: validation gate, quarantine, partitions, idempotency, CLI."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_sessionize import grid, poll, snap

from pipelines import cli
from pipelines import schema as s
from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.detection import detect_departures
from pipelines.errors import StageError
from pipelines.storage import Layout, read_json, write_json, write_parquet
from pipelines.timeutil import hour_floor, local_midnight_utc

pytestmark = pytest.mark.integration

DAY = dt.date(2025, 10, 25)            # the service date before the autumn DST change
START = local_midnight_utc(DAY) + dt.timedelta(hours=23, minutes=40)  # 23:40 CEST, across midnight
STATION = "Hagen Hbf"


def write_hours(layout: Layout, rows: list[dict], polls: list[dict]) -> None:
    """Hour partitions of snapshots and polls, sorted like ingest writes them."""
    for name, items, schema, key in (("snapshots", rows, s.SNAPSHOT_SCHEMA, s.SNAPSHOT_KEY),
                                     ("polls", polls, s.POLLS_SCHEMA, (s.STATION, s.POLL_TIME))):
        by_hour: dict[dt.datetime, list[dict]] = defaultdict(list)
        for item in items:
            by_hour[hour_floor(item[s.POLL_TIME])].append(item)
        for hour, part in by_hour.items():
            table = pa.Table.from_pylist(part, schema=schema).sort_by([(c, "ascending") for c in key])
            write_parquet(table, layout.hour_file(name, hour))


def set_verdict(layout: Layout, verdict: str, quarantined: list[dict] | None = None) -> None:
    write_json({"verdict": verdict}, layout.dataset("ledger") / "validate_snapshots" / f"{DAY}.json")
    if quarantined:
        table = pa.Table.from_pylist(quarantined, schema=s.SNAPSHOT_SCHEMA).select(list(s.SNAPSHOT_KEY))
        table = table.append_column(s.RULE, pa.array(["test_rule"] * table.num_rows))
        write_parquet(table, layout.dataset("quarantine") / "validate_snapshots" / f"{DAY}.parquet")


@pytest.fixture()
def scenario(params: Params, layout: Layout) -> dict[str, list[dict]]:
    """Train 1 across local midnight, train 2 of the next service date, train 3 decided after close."""
    times = grid(START, range(0, 40, 3))
    rows = [snap(STATION, t, "1", day=DAY, sched=times[-1]) for t in times]
    rows += [snap(STATION, t, "2", day=DAY + dt.timedelta(days=1)) for t in times[:3]]
    close = close_time(params, DAY)    # 04:00 UTC = 05:00 CET: Berlin midnight + 6 h over a 25-hour night
    late = grid(close, [-7, -4])       # decided_at = close + 3 min
    rows += [snap(STATION, t, "3", day=DAY) for t in late]
    polls = [poll(STATION, t) for t in grid(START, range(0, 60, 3))] + [poll(STATION, t) for t in late]
    polls += [poll(STATION, late[-1] + dt.timedelta(minutes=m)) for m in (3, 6, 9)]  # 2 after close
    write_hours(layout, rows, polls)
    return {"rows": rows, "polls": polls}


def test_refuses_unless_validation_passed(params: Params, layout: Layout, scenario: dict) -> None:
    with pytest.raises(StageError, match="validate_snapshots"):
        detect_departures.run(params, layout, DAY)
    set_verdict(layout, "failed")
    with pytest.raises(StageError, match=f"{DAY}.json"):
        detect_departures.run(params, layout, DAY)
    assert not layout.day_file("departures", DAY).exists()


def test_departures_of_the_day_and_identical_bytes(params: Params, layout: Layout, scenario: dict) -> None:
    set_verdict(layout, "passed")
    result = detect_departures.run(params, layout, DAY)
    target = layout.day_file("departures", DAY)
    table = pq.read_table(target)
    assert table.schema.equals(s.DEPARTURES_SCHEMA)
    assert table[s.TRAIN_NUMBER].to_pylist() == ["1"]        # "2" is another day, "3" not decided by close
    assert (result["n_departures"], result["n_undecided"], result["n_snapshot_rows"]) == (1, 1, 16)
    assert table[s.N_POLLS][0].as_py() == 14
    first = target.read_bytes()
    detect_departures.run(params, layout, DAY)
    assert target.read_bytes() == first
    assert not (layout.dataset("metrics") / "detect_departures").exists()  # no truth, no metrics


def test_quarantined_rows_are_not_sightings(params: Params, layout: Layout, scenario: dict) -> None:
    last = [r for r in scenario["rows"] if r[s.TRAIN_NUMBER] == "1"][-1]
    set_verdict(layout, "passed", quarantined=[last])
    result = detect_departures.run(params, layout, DAY)
    (dep,) = pq.read_table(layout.day_file("departures", DAY)).to_pylist()
    assert dep[s.LAST_SEEN] == last[s.POLL_TIME] - dt.timedelta(minutes=3)
    assert (dep[s.N_POLLS], result["n_quarantined_keys"]) == (13, 1)


def test_cli_runs_the_stage(params: Params, layout: Layout, scenario: dict,
                            capsys: pytest.CaptureFixture) -> None:
    set_verdict(layout, "passed")
    assert cli.main(["detect_departures", "--home", str(layout.root), "--date", DAY.isoformat()]) == 0
    assert '"n_departures": 1' in capsys.readouterr().out
    set_verdict(layout, "failed")
    assert cli.main(["detect_departures", "--home", str(layout.root), "--date", DAY.isoformat()]) == 1
    assert read_json(layout.dataset("ledger") / "validate_snapshots" / f"{DAY}.json")["verdict"] == "failed"
