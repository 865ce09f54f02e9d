"""Service dates and DST handling."""

import datetime as dt

import pytest

from pipelines.timeutil import BERLIN, service_date_for_local, service_day_bounds

pytestmark = pytest.mark.unit


def test_dst_days_have_23_and_25_hours() -> None:
    for day, hours in ((dt.date(2025, 3, 30), 23), (dt.date(2025, 10, 26), 25), (dt.date(2025, 9, 1), 24)):
        start, end = service_day_bounds(day)
        assert (end - start) == dt.timedelta(hours=hours)


def test_service_day_starts_at_four() -> None:
    assert service_date_for_local(dt.datetime(2025, 9, 2, 3, 59, tzinfo=BERLIN)) == dt.date(2025, 9, 1)
    assert service_date_for_local(dt.datetime(2025, 9, 2, 4, 0, tzinfo=BERLIN)) == dt.date(2025, 9, 2)
