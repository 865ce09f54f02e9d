"""Unit tests of the board normalizer against hand-written DBF v3 bodies."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from test_ingest_fixtures import board, dep, without

from pipelines import schema as s
from pipelines.sources.dbf.dbf import nesting_depth, normalize_board
from pipelines.sources.dbf.fields import category_of

pytestmark = pytest.mark.unit

UTC = dt.UTC
POLL = dt.datetime(2022, 6, 20, 10, 17, tzinfo=UTC)  # 12:17 CEST, Holzwickede example of docs/RAIL_FACTS.md


def rows(body, poll=POLL, **kw):
    return normalize_board(body, "Holzwickede", poll, **kw)


def test_full_record_becomes_one_typed_row() -> None:
    result = rows(board(dep()))
    assert result.table.schema == s.SNAPSHOT_SCHEMA
    assert result.quarantined == () and result.duplicates == 0 and result.body_reason is None
    row = result.table.to_pylist()[0]
    assert row == {
        s.STATION: "Holzwickede",
        s.POLL_TIME: POLL,
        s.SERVICE_DATE: dt.date(2022, 6, 20),
        s.TRAIN: "RE 7",
        s.CATEGORY: "RE",
        s.TRAIN_NUMBER: "32557",
        s.TRAIN_CLASSES: "N",
        s.DESTINATION: "Krefeld Hbf",
        s.PLATFORM: "2",
        s.SCHEDULED_PLATFORM: "1",
        s.SCHEDULED_ARRIVAL: dt.datetime(2022, 6, 20, 10, 18, tzinfo=UTC),
        s.SCHEDULED_DEPARTURE: dt.datetime(2022, 6, 20, 10, 19, tzinfo=UTC),
        s.DELAY_ARRIVAL: 1,
        s.DELAY_DEPARTURE: 2,
        s.IS_CANCELLED: False,
        s.MISSING_REALTIME: False,
        s.REASON_CODES: "43,31",
        s.ROUTE: "Unna|Holzwickede|Dortmund Hbf|Hagen-Vorhalle|Krefeld Hbf|Mönchengladbach Hbf",
        s.CANCELLED_STOPS: "Mönchengladbach Hbf",
        s.ADDITIONAL_STOPS: "Hagen-Vorhalle",
        s.VIA: "Dortmund Hbf|Hagen-Vorhalle|Krefeld Hbf",
    }


def test_coercions_number_train_number_flags_and_nulls() -> None:
    record = dep(
        trainNumber=32557,
        isCancelled=1,
        platform=3,
        scheduledPlatform=None,
        scheduledArrival=None,
        delayArrival=None,
        trainClasses=["N", "D"],
        via=[],
        messages={},
    )
    row = rows(board(record)).table.to_pylist()[0]
    assert row[s.TRAIN_NUMBER] == "32557" and row[s.IS_CANCELLED] is True
    assert row[s.PLATFORM] == "3" and row[s.SCHEDULED_PLATFORM] is None
    assert row[s.SCHEDULED_ARRIVAL] is None and row[s.DELAY_ARRIVAL] is None
    assert row[s.TRAIN_CLASSES] == "ND" and row[s.VIA] == "" and row[s.REASON_CODES] == ""


@pytest.mark.parametrize(
    ("label", "category"),
    [
        ("ICE 1555", "ICE"),
        ("IC 2013", "IC"),
        ("RE 7", "RE"),
        ("RB 59", "RB"),
        ("S 1", "S"),
        ("S1", "S"),
        ("EC 7", "OTHER"),
        ("Bus SEV", "OTHER"),
        ("  ice 5", "ICE"),
        ("123", "OTHER"),
        ("SBB 1", "OTHER"),
    ],
)
def test_category_from_label_prefix(label: str, category: str) -> None:
    assert category_of(label) == category


def test_reason_codes_newest_first_unknown_texts_skipped_repeats_once() -> None:
    texts = ["Streik", "Irgendwas Neues", "Bauarbeiten", "Streik"]
    messages = {"delay": [{"timestamp": "x", "text": t} for t in texts], "qos": []}
    assert rows(board(dep(messages=messages))).table[s.REASON_CODES].to_pylist() == ["52,31"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"departures": [{"train": "RE 7", ', "malformed_json"),
        ('{"error": "Unknown station name", "departures": []}', "error_body"),
        ('{"error": "ambiguous station code/name", "candidates": [{"code": "EDG"}]}', "error_body"),
        ("[1, 2]", "not_an_object"),
        ('"just text"', "not_an_object"),
        ('{"trains": []}', "missing_field:departures"),
        ('{"departures": {"a": 1}}', "wrong_type:departures"),
        (b'{"departures": [\xff\xfe]}', "bad_encoding"),
        ("<html>502 Bad Gateway</html>", "malformed_json"),
        ("", "malformed_json"),
    ],
)
def test_rejected_bodies_carry_a_reason(body, reason: str) -> None:
    result = rows(body)
    assert result.body_reason == reason
    assert result.table.num_rows == 0 and result.records_seen == 0
    assert [q.reason for q in result.quarantined] == [reason]


def test_oversized_and_too_deep_bodies_are_refused_before_parsing() -> None:
    big = board(*[dep(trainNumber=str(n)) for n in range(40)])
    size = len(big.encode())  # the limit is in bytes; umlauts take two
    assert rows(big, max_body_bytes=size - 1).body_reason == "oversized"
    assert rows(big, max_body_bytes=size).body_reason is None
    deep = '{"departures": [' + "[" * 5000 + "]" * 5000 + "]}"  # would hit Python's recursion limit
    assert rows(deep).body_reason == "too_deep"
    assert nesting_depth('{"a": "[[[[{{{", "b": [{"c": []}]}') == 4


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (without("trainNumber"), "missing_field:trainNumber"),
        (dep(trainNumber=None), "missing_field:trainNumber"),
        (dep(trainNumber=""), "missing_field:trainNumber"),
        (dep(trainNumber=3.5), "wrong_type:trainNumber"),
        (without("train"), "missing_field:train"),
        (without("destination"), "missing_field:destination"),
        (dep(delayDeparture="5"), "wrong_type:delayDeparture"),
        (dep(delayDeparture=True), "wrong_type:delayDeparture"),
        (dep(delayArrival=10**6), "out_of_range:delayArrival"),
        (dep(isCancelled=2), "wrong_type:isCancelled"),
        (dep(scheduledDeparture="25:00"), "bad_time:scheduledDeparture"),
        (dep(scheduledDeparture="7:05"), "bad_time:scheduledDeparture"),
        (dep(scheduledArrival=None, scheduledDeparture=None), "missing_field:scheduledDeparture"),
        (dep(route="Unna"), "wrong_type:route"),
        (dep(via=[1]), "wrong_type:via"),
        (dep(messages=[]), "wrong_type:messages"),
        ("a string", "not_an_object"),
        (None, "not_an_object"),
    ],
)
def test_bad_records_are_quarantined_and_the_rest_kept(record, reason: str) -> None:
    result = rows(board(dep(trainNumber="1"), record))
    assert [q.reason for q in result.quarantined] == [reason]
    assert json.loads(result.quarantined[0].content) == record
    assert result.table[s.TRAIN_NUMBER].to_pylist() == ["1"]
    assert result.records_seen == 2


def test_duplicates_counted_and_rows_sorted_by_key() -> None:
    body = board(dep(trainNumber="900"), dep(trainNumber="12"), dep(trainNumber="900", delayDeparture=9))
    result = rows(body)
    assert result.duplicates == 1
    assert result.table[s.TRAIN_NUMBER].to_pylist() == ["12", "900"]
    assert result.table[s.DELAY_DEPARTURE].to_pylist() == [2, 2]  # the first of the duplicates wins


def test_empty_board_is_a_success_with_no_rows() -> None:
    result = rows('{"departures": []}')
    assert result.body_reason is None and result.table.num_rows == 0 and result.records_seen == 0
    assert result.table.schema == s.SNAPSHOT_SCHEMA


def test_bytes_and_text_bodies_normalize_identically() -> None:
    text = board(dep(), dep(trainNumber="7"))
    assert rows(text).table.equals(rows(text.encode()).table)


def test_naive_poll_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        normalize_board(board(dep()), "X", dt.datetime(2025, 9, 1, 12))


def test_table_is_arrow_of_the_contract_schema_even_when_all_rejected() -> None:
    result = rows(board(1, 2, 3))
    assert isinstance(result.table, pa.Table) and result.table.schema == s.SNAPSHOT_SCHEMA
    assert len(result.quarantined) == 3
