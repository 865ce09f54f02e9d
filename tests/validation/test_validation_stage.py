"""The validation stages as transactions: verdicts, quarantine, ledger, report, idempotency, CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_validation_samples import DAY, POLL_START, good_features, good_snapshots

from pipelines import cli
from pipelines import schema as s
from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.storage import Layout, read_json, write_parquet
from pipelines.validation import validate_features, validate_snapshots
from pipelines.validation.gate import ledger_file, quarantine_file, report_file

pytestmark = pytest.mark.integration

STAGE = validate_snapshots.STAGE


def _store_snapshots(layout: Layout, table: pa.Table) -> None:
    write_parquet(table, layout.hour_file("snapshots", POLL_START))   # all sample polls are in one hour


def _break_delays(table: pa.Table, rows: list[int]) -> pa.Table:
    """Departure delays of 999 minutes (out of range) in the given rows that have a departure."""
    values = table[s.DELAY_DEPARTURE].to_pylist()
    for i in rows:
        assert values[i] is not None
        values[i] = 999
    index = table.schema.get_field_index(s.DELAY_DEPARTURE)
    return table.set_column(index, s.DELAY_DEPARTURE, pa.array(values, pa.int16()))


def _departing_rows(table: pa.Table, count: int) -> list[int]:
    valid = pc.is_valid(table[s.SCHEDULED_DEPARTURE]).to_pylist()
    return [i for i, ok in enumerate(valid) if ok][:count]


def test_good_day_passes(params: Params, layout: Layout) -> None:
    _store_snapshots(layout, good_snapshots())
    result = validate_snapshots.run(params, layout, DAY)
    ledger = read_json(ledger_file(layout, STAGE, DAY))
    assert ledger == result
    assert ledger["verdict"] == "passed" and ledger["rows"] == 360 and ledger["failing_rows"] == 0
    assert ledger["threshold"] == params.validation.max_failing_share and ledger["failed_expectations"] == []
    assert (layout.root / ledger["report"]).is_file()
    assert validate_snapshots.passed(layout, STAGE, DAY)
    assert validate_snapshots.quarantined_keys(layout, STAGE, DAY).num_rows == 0
    assert not validate_snapshots.passed(layout, STAGE, DAY + dt.timedelta(days=1))   # never validated


def test_few_bad_rows_are_quarantined_and_the_batch_passes(params: Params, layout: Layout) -> None:
    table = good_snapshots()
    bad = _departing_rows(table, 3)                         # 3 of 360 rows: 0.8% <= 2%
    _store_snapshots(layout, _break_delays(table, bad))
    result = validate_snapshots.run(params, layout, DAY)
    assert result["verdict"] == "passed" and result["failing_rows"] == 3
    assert result["quarantined_by_rule"] == {"delay_departure_in_range": 3}
    quarantine = pq.read_table(quarantine_file(layout, STAGE, DAY))
    assert quarantine.column_names == [*s.SNAPSHOT_KEY, s.RULE]
    assert set(quarantine[s.RULE].to_pylist()) == {"delay_departure_in_range"}
    expected = {tuple(r.values()) for r in table.select(list(s.SNAPSHOT_KEY)).take(bad).to_pylist()}
    keys = validate_snapshots.quarantined_keys(layout, STAGE, DAY)
    assert {tuple(r.values()) for r in keys.to_pylist()} == expected


def test_too_many_bad_rows_fail_the_batch(params: Params, layout: Layout) -> None:
    table = good_snapshots()
    _store_snapshots(layout, _break_delays(table, _departing_rows(table, 36)))   # 10%
    with pytest.raises(StageError) as err:
        validate_snapshots.run(params, layout, DAY)
    report = report_file(layout, "snapshots", DAY)
    assert "delay_departure_in_range" in str(err.value) and str(report) in str(err.value)
    ledger = read_json(ledger_file(layout, STAGE, DAY))
    assert ledger["verdict"] == "failed" and ledger["failing_share"] == pytest.approx(0.1)
    assert ledger["failed_expectations"] == ["delay_departure_in_range"]
    assert not validate_snapshots.passed(layout, STAGE, DAY)
    assert pq.read_table(quarantine_file(layout, STAGE, DAY)).num_rows == 36


def test_threshold_comes_from_params(params: Params, layout: Layout) -> None:
    table = good_snapshots()
    _store_snapshots(layout, _break_delays(table, _departing_rows(table, 3)))
    validation = dataclasses.replace(params.validation, max_failing_share=0.005)   # 3 of 360 is 0.8%
    strict = dataclasses.replace(params, validation=validation)
    with pytest.raises(StageError, match="delay_departure_in_range"):
        validate_snapshots.run(strict, layout, DAY)


def test_a_day_without_snapshots_fails_on_row_count(params: Params, layout: Layout) -> None:
    with pytest.raises(StageError, match="row_count"):
        validate_snapshots.run(params, layout, DAY)
    assert read_json(ledger_file(layout, STAGE, DAY))["rows"] == 0


def test_rerun_gives_identical_bytes(params: Params, layout: Layout) -> None:
    table = good_snapshots()
    _store_snapshots(layout, _break_delays(table, _departing_rows(table, 2)))
    outputs = [ledger_file(layout, STAGE, DAY), quarantine_file(layout, STAGE, DAY),
               report_file(layout, "snapshots", DAY)]
    validate_snapshots.run(params, layout, DAY)
    first = [p.read_bytes() for p in outputs]
    validate_snapshots.run(params, layout, DAY)
    assert [p.read_bytes() for p in outputs] == first


def test_report_is_self_contained(params: Params, layout: Layout) -> None:
    table = good_snapshots()
    _store_snapshots(layout, _break_delays(table, _departing_rows(table, 2)))
    validate_snapshots.run(params, layout, DAY)
    page = report_file(layout, "snapshots", DAY).read_text()
    assert "Verdict: PASSED" in page and "delay_departure_in_range" in page and "999" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page and "@import" not in page and "url(" not in page


def _features_with_bad_hour(rows: int) -> pa.Table:
    features = good_features(rows)
    hours = features[s.HOUR].to_pylist()
    hours[0] = 30
    return features.set_column(features.schema.get_field_index(s.HOUR), s.HOUR, pa.array(hours, pa.int64()))


def test_features_gate(params: Params, layout: Layout) -> None:
    with pytest.raises(StageError, match="build_features"):
        validate_features.run(params, layout, DAY)
    features = _features_with_bad_hour(60)                  # 1 of 60 rows: 1.7% <= 2%
    write_parquet(features, layout.day_file("features", DAY))
    result = validate_features.run(params, layout, DAY)
    assert result["verdict"] == "passed" and result["quarantined_by_rule"] == {"hour_in_range": 1}
    keys = validate_features.quarantined_keys(layout, validate_features.STAGE, DAY)
    assert keys.to_pylist() == [{s.DEPARTURE_ID: features[s.DEPARTURE_ID][0].as_py()}]
    assert validate_features.passed(layout, validate_features.STAGE, DAY)
    write_parquet(_features_with_bad_hour(40), layout.day_file("features", DAY))   # 1 of 40: 2.5%
    with pytest.raises(StageError, match="hour_in_range") as err:
        validate_features.run(params, layout, DAY)
    assert str(report_file(layout, "features", DAY)) in str(err.value)
    assert not validate_features.passed(layout, validate_features.STAGE, DAY)


def test_cli_validates_a_range_of_days(params: Params, layout: Layout, capsys: pytest.CaptureFixture) -> None:
    _store_snapshots(layout, good_snapshots())
    before = DAY - dt.timedelta(days=1)           # no snapshots: fails on row_count
    argv = ["validate_snapshots", "--home", str(layout.root), "--start-date", str(before), "--days", "2"]
    assert cli.main(argv) == 1
    assert "1 of 2 day(s) failed" in capsys.readouterr().err
    assert validate_snapshots.passed(layout, STAGE, DAY)          # the bad day did not stop the good one
    assert read_json(ledger_file(layout, STAGE, before))["failed_expectations"] == ["row_count"]
    assert cli.main(["validate_snapshots", "--home", str(layout.root), "--date", DAY.isoformat()]) == 0
    assert '"verdict": "passed"' in capsys.readouterr().out


def test_cli_help_lists_the_day_options(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli.main(["validate_features", "--help"])
    out = capsys.readouterr().out
    assert "--date" in out and "--start-date" in out and "--days" in out
