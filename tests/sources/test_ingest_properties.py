"""Property-based tests of the normalizer: it never raises, and every record is accounted for."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_fixtures import HOLZWICKEDE_RE7

from pipelines import schema as s
from pipelines.sources.dbf.dbf import normalize_board

pytestmark = pytest.mark.unit

POLL = dt.datetime(2025, 10, 26, 1, 20, tzinfo=dt.UTC)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=20,
)

# values a field plausibly takes on a real or broken board, plus arbitrary JSON
clock_texts = st.from_regex(r"\A[0-2][0-9]:[0-5][0-9]\Z") | st.text(max_size=6)
field_values = {
    "train": st.sampled_from(["ICE 1555", "RE 7", "S 1", "", "Bus"]) | json_values,
    "trainNumber": st.integers(0, 99999) | st.from_regex(r"\A[0-9]{1,6}\Z") | json_values,
    "scheduledArrival": st.none() | clock_texts | json_values,
    "scheduledDeparture": st.none() | clock_texts | json_values,
    "delayArrival": st.none() | st.integers(-5, 400) | json_values,
    "delayDeparture": st.none() | st.integers(-40000, 40000) | json_values,
    "isCancelled": st.sampled_from([0, 1, True, 2, "1"]) | json_values,
    "platform": st.none() | st.text(max_size=4) | st.integers(0, 20),
    "messages": st.just({"delay": [{"text": "Streik"}]}) | json_values,
    "route": st.lists(st.fixed_dictionaries({"name": st.text(max_size=5)}), max_size=3) | json_values,
    "via": st.lists(st.text(max_size=5), max_size=3) | json_values,
}


@st.composite
def departure(draw) -> object:
    """The RE 7 record with a random subset of fields replaced, deleted or left alone."""
    record = dict(HOLZWICKEDE_RE7)
    for key, values in field_values.items():
        action = draw(st.sampled_from(["keep", "keep", "replace", "delete"]))
        if action == "replace":
            record[key] = draw(values)
        elif action == "delete":
            record.pop(key, None)
    return record if draw(st.integers(0, 9)) else draw(json_values)


def check_accounting(result, n_records: int | None) -> None:
    assert result.table.schema == s.SNAPSHOT_SCHEMA
    if result.body_reason:
        assert result.table.num_rows == 0 and len(result.quarantined) == 1
        return
    accepted = result.table.num_rows
    assert accepted + result.duplicates + len(result.quarantined) == result.records_seen
    assert n_records is None or result.records_seen == n_records
    assert all(q.reason for q in result.quarantined)
    keys = list(zip(*(result.table[k].to_pylist() for k in s.SNAPSHOT_KEY), strict=True))
    assert keys == sorted(keys) and len(set(keys)) == accepted


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    check_accounting(normalize_board(body, "Hamm", POLL), None)


@SETTINGS
@given(json_values)
def test_arbitrary_json_never_raises(doc) -> None:
    result = normalize_board(json.dumps(doc), "Hamm", POLL)
    n = len(doc["departures"]) if isinstance(doc, dict) and isinstance(doc.get("departures"), list) else None
    if "error" in (doc if isinstance(doc, dict) else {}):
        assert result.body_reason == "error_body"
    check_accounting(result, n)


@SETTINGS
@given(st.lists(departure(), max_size=12), st.integers(0, 3))
def test_every_record_is_accepted_or_duplicate_or_quarantined(records: list, repeats: int) -> None:
    records = records + records[:repeats]  # duplicated records on one board
    result = normalize_board(json.dumps({"departures": records}), "Hamm", POLL)
    assert result.body_reason is None
    check_accounting(result, len(records))


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text_and_its_truncations_never_raise(text: str) -> None:
    valid = json.dumps({"departures": [HOLZWICKEDE_RE7, {"x": text}]})
    for cut in (len(valid) // 3, len(valid) - 1):
        assert normalize_board(valid[:cut], "Hamm", POLL).body_reason == "malformed_json"
    check_accounting(normalize_board(text, "Hamm", POLL), None)
