"""The helpers DAG tasks call: intervals to service dates, retrain requests, stages looked up at run time."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from pipelines.errors import StageError
from pipelines.runtime import lifecycle, schedule
from pipelines.runtime import orchestration as orch
from pipelines.runtime.context import Context

pytestmark = pytest.mark.dags

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture()
def ctx(params, layout) -> Context:
    return Context(params, layout)


def berlin(y: int, m: int, d: int, h: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=BERLIN)


def days(*iso: str) -> list[dt.date]:
    return [dt.date.fromisoformat(d) for d in iso]


def test_a_daily_berlin_interval_processes_the_date_that_closed_in_it(ctx):
    # [Sep 3 00:00, Sep 4 00:00) Berlin holds Sep 2's close (Sep 3 06:00 local), and only that.
    assert orch.closed_days(ctx, berlin(2025, 9, 3), berlin(2025, 9, 4)) == days("2025-09-02")
    # a 3-day backfill window: each date exactly once
    three = days("2025-09-02", "2025-09-03", "2025-09-04")
    assert orch.closed_days(ctx, berlin(2025, 9, 3), berlin(2025, 9, 6)) == three


def test_dst_night_interval_of_25_hours(ctx):
    # 2025-10-26 has 25 hours in Berlin; the daily timetable's interval is local midnight to midnight.
    assert orch.closed_days(ctx, berlin(2025, 10, 26), berlin(2025, 10, 27)) == days("2025-10-25")


def test_interval_from_prefers_events_of_an_asset_triggered_run():
    events = [{"start": "2025-09-03T22:00:00+00:00", "end": "2025-09-04T22:00:00+00:00"},
              {"start": "2025-09-02T22:00:00+00:00", "end": "2025-09-03T22:00:00+00:00"}]
    tick = berlin(2025, 9, 5, 1)
    union = ("2025-09-02T22:00:00+00:00", "2025-09-04T22:00:00+00:00")
    assert orch.interval_from(tick, tick, events) == union
    assert orch.interval_from(berlin(2025, 9, 3), berlin(2025, 9, 4)) == (
        "2025-09-02T22:00:00+00:00", "2025-09-03T22:00:00+00:00")
    with pytest.raises(StageError):
        orch.interval_from(None, None, [])


def test_event_extras_reads_triggering_asset_events():
    events = {"railcast://drift": [SimpleNamespace(extra={"window_end": "x"}), SimpleNamespace(extra=None)]}
    assert orch.event_extras(events) == [{"window_end": "x"}, {}]
    assert orch.event_extras(None) == []


def test_retrain_request_from_manual_conf_or_drift_events_never_the_clock():
    manual = lifecycle.retrain_request({"reason": "new timetable", "as_of": "2025-09-20T04:00:00+02:00"}, [])
    assert manual == {"as_of": "2025-09-20T02:00:00+00:00",
                      "trigger": {"kind": "manual", "reason": "new timetable"}}
    events = [{"day": "2025-09-15", "window_end": "2025-09-16T22:00:00+00:00", "evidence": {"share": 0.4}},
              {"day": "2025-09-16", "window_end": "2025-09-17T22:00:00+00:00", "evidence": {"share": 0.5}}]
    drift = lifecycle.retrain_request({}, events)
    assert drift["as_of"] == "2025-09-17T22:00:00+00:00" and drift["trigger"]["kind"] == "drift"
    assert drift["trigger"]["evidence"] == {"2025-09-15": {"share": 0.4}, "2025-09-16": {"share": 0.5}}
    first = lifecycle.retrain_request({}, [{"day": "2025-09-08", "window_end": "2025-09-09T22:00:00+00:00",
                                       "evidence": {"kind": "bootstrap"}}])
    assert first["trigger"]["kind"] == "bootstrap"
    warm = lifecycle.retrain_request({}, [{"day": "2025-09-16", "window_end": "2025-09-17T22:00:00+00:00",
                                      "evidence": {"kind": "warm_up"}}])
    assert warm["trigger"]["kind"] == "warm_up"
    with pytest.raises(StageError, match="reason"):
        lifecycle.retrain_request({"as_of": "2025-09-20T00:00:00Z"}, events)
    with pytest.raises(StageError, match="drift event"):
        lifecycle.retrain_request(None, [{"day": "2025-09-15"}])


def test_stages_resolve_at_run_time(ctx):
    with pytest.raises(KeyError, match="unknown stage"):
        orch.run_stage(ctx, "no_such_stage")
    # a real stage through the helper: detection refuses a day whose snapshots were never validated
    with pytest.raises(StageError, match="validat"):
        orch.run_days(ctx, "detect_departures", days("2025-09-02"))


def test_jsonable_and_instant():
    assert orch.jsonable({"d": dt.date(2025, 9, 1), "n": 1}) == {"d": "2025-09-01", "n": 1}
    assert orch.instant("2025-09-01T02:00:00+02:00") == dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    assert orch.instant(berlin(2025, 9, 1, 2)) == dt.datetime(2025, 9, 1, tzinfo=dt.UTC)


def test_planned_days_takes_event_windows_one_by_one_and_only_ingested_dates(params, layout, ctx):
    from pipelines.datasets import service_date_hours

    for hour in service_date_hours(params, dt.date(2025, 9, 2)):  # 2025-09-02 fully ingested
        layout.hour_file("polls", hour).parent.mkdir(parents=True, exist_ok=True)
        layout.hour_file("polls", hour).touch()
    partial = service_date_hours(params, dt.date(2025, 9, 3))[:-1]  # 2025-09-03 misses its last hour
    for hour in partial:
        layout.hour_file("polls", hour).touch()
    backfill = {"start": berlin(2025, 9, 3).isoformat(), "end": berlin(2025, 9, 5).isoformat()}
    today = {"start": berlin(2026, 11, 22).isoformat(), "end": berlin(2026, 11, 23).isoformat()}
    tick = berlin(2026, 11, 23, 1)
    # the union of both windows would span 14 months of dates; one by one it is 3 dates, 1 ingested
    assert orch.planned_days(ctx, tick, tick, [backfill, today]) == days("2025-09-02")
    # 09-03 waits for its last hour; 09-02, ingested but never built, is caught up
    assert orch.planned_days(ctx, berlin(2025, 9, 4), berlin(2025, 9, 5)) == days("2025-09-02")
    layout.hour_file("polls", service_date_hours(params, dt.date(2025, 9, 3))[-1]).touch()
    assert orch.planned_days(ctx, berlin(2025, 9, 4), berlin(2025, 9, 5)) == days("2025-09-02", "2025-09-03")


def test_monitor_days_sends_the_alerts_the_monitor_asks_for_and_emits_only_retrains(ctx, layout, monkeypatch):
    from pipelines.monitoring.alert import alert_from_evidence
    from pipelines.runtime import outbox

    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)  # no server: alerts stay queued
    empty = {"kind": "empty_window", "day": "2025-09-10",
             "window": {"start": "2025-09-10", "end": "2025-09-10"},
             "incident_key": "empty_window|2025-09-10", "record": "r", "features_dir": "f"}
    boot = {"kind": "bootstrap", "day": "2025-09-11", "incident_key": "bootstrap|2025-09-11", "record": "r",
            "reason": "enough matured days"}
    results = {  # monitor.run's shape, its alerts worded by the monitor's own builder (its tests decide)
        "2025-09-10": {"verdict": "empty_window", "alert": alert_from_evidence(empty), "evidence": empty},
        "2025-09-11": {"verdict": "retrain", "alert": alert_from_evidence(boot), "evidence": boot},
        "2025-09-12": {"verdict": "no_drift", "alert": None,
                       "evidence": {"kind": "drift", "day": "2025-09-12"}},
    }
    def monitor_stage(ctx, name, day, deliver):   # monitor.run's contract: the alert goes to `deliver`
        result = results[day.isoformat()]           # before the day counts as alerted
        if result["alert"]:
            deliver(result["alert"])
        return result

    monkeypatch.setattr(orch, "run_stage", monitor_stage)
    events = lifecycle.monitor_days(ctx, days(*results), berlin(2025, 9, 13), emitter="airflow:run-1")
    assert [e["day"] for e in events] == ["2025-09-11"], "only a retrain verdict emits a drift event"
    again = lifecycle.monitor_days(ctx, days(*results), berlin(2025, 9, 13), emitter="airflow:run-1")
    assert again == events, "a retry of the same run re-emits what its failed try could not"
    other = lifecycle.monitor_days(ctx, days(*results), berlin(2025, 9, 13), emitter="airflow:run-2")
    assert other == [], "another run re-checking the date starts no second retrain"
    assert events[0]["window_end"] == "2025-09-12T22:00:00+00:00" and events[0]["evidence"] == boot
    queued = sorted(m["content"].decode() for m in outbox.messages(layout, ("pending",)))
    subjects = sorted(r["alert"]["subject"] for r in results.values() if r["alert"])
    assert len(queued) == 2, "one alert per verdict the monitor asked one for, none for the others"
    assert all(any(subject in q for q in queued) for subject in subjects)


def test_planned_days_catch_up_dates_that_were_never_built(params, layout, ctx):
    from pipelines.datasets import service_date_hours

    for day in (dt.date(2025, 9, 2), dt.date(2025, 9, 3)):
        for hour in service_date_hours(params, day):
            layout.hour_file("polls", hour).parent.mkdir(parents=True, exist_ok=True)
            layout.hour_file("polls", hour).touch()
    # the interval closes 2025-09-04 (not ingested); 09-02 and 09-03 were ingested but never built
    assert orch.planned_days(ctx, berlin(2025, 9, 5), berlin(2025, 9, 6)) == days("2025-09-02", "2025-09-03")
    layout.day_file("features", dt.date(2025, 9, 2)).parent.mkdir(parents=True, exist_ok=True)
    layout.day_file("features", dt.date(2025, 9, 2)).touch()
    assert orch.planned_days(ctx, berlin(2025, 9, 5), berlin(2025, 9, 6)) == days("2025-09-03")


def test_a_date_missing_an_hour_is_an_alert_until_the_gap_is_recorded(params, layout, ctx):
    """A poller down for one UTC hour: before, the date was never built, left the catch-up window after
    a week and nothing said so. Now build_dataset's check_ingested task fails naming it, and
    `ingest --record-gaps` records the hole so the date is built."""
    from pipelines.datasets import service_date_hours
    from pipelines.sources import ingest
    from pipelines.timeutil import hour_key, local_midnight_utc

    day = dt.date(2025, 9, 2)
    hours = service_date_hours(params, day)
    gap = hours[5]
    for hour in hours:
        if hour != gap:
            layout.hour_file("polls", hour).parent.mkdir(parents=True, exist_ok=True)
            layout.hour_file("polls", hour).touch()
    deadline = orch.ingest_deadline(params, day)
    # the daily ingest run after the close (Berlin midnight two days on) reads its last hours; then slack
    slack = dt.timedelta(hours=schedule.INGEST_DEADLINE_H)
    assert deadline == local_midnight_utc(day + dt.timedelta(days=2)) + slack
    assert orch.planned_days(ctx, deadline - dt.timedelta(days=1), deadline) == []
    assert orch.overdue_days(ctx, deadline - dt.timedelta(minutes=1)) == {}, "its hour may still come"
    found = orch.overdue_days(ctx, deadline)
    assert found == {"2025-09-02": [hour_key(gap)]}
    message = orch.overdue_message(found)
    assert "2025-09-02" in message and hour_key(gap) in message and "--record-gaps" in message
    assert orch.overdue_days(ctx, deadline + dt.timedelta(days=schedule.CATCH_UP_DAYS + 1)) == {}
    result = ingest.run(params, layout, gap, gap + dt.timedelta(hours=1), record_gaps=True)
    assert result["gaps"] == [hour_key(gap)] and result["polls"]["attempted"] == 0
    assert orch.overdue_days(ctx, deadline) == {}
    assert orch.planned_days(ctx, deadline - dt.timedelta(days=1), deadline) == [day]
    without = ingest.run(params, layout, gap, gap + dt.timedelta(hours=1))   # the default: just listed
    assert without["missing_hours"] == [hour_key(gap)]


def test_a_poller_down_all_day_is_an_alert_but_the_days_before_the_deployment_are_not(params, layout, ctx):
    """Before, a date with none of its own hours ingested was never reported: the poller down for a
    whole Berlin day looked like the days before the deployment began. The daily ingest run's ledger
    (no raw data for those hours) tells them apart."""
    from pipelines.datasets import service_date_hours
    from pipelines.sources import ingest
    from pipelines.timeutil import hour_key, local_midnight_utc

    first, down = dt.date(2025, 9, 2), dt.date(2025, 9, 4)   # polled from 09-02 00:00 Berlin; 09-04 lost
    for day in (first, dt.date(2025, 9, 3), dt.date(2025, 9, 5)):
        for hour in service_date_hours(params, day):
            if not local_midnight_utc(down) <= hour < local_midnight_utc(down + dt.timedelta(days=1)):
                layout.hour_file("polls", hour).parent.mkdir(parents=True, exist_ok=True)
                layout.hour_file("polls", hour).touch()
    deadline = orch.ingest_deadline(params, dt.date(2025, 9, 5))
    after = local_midnight_utc(down + dt.timedelta(days=1))
    lost = [hour_key(h) for h in service_date_hours(params, down) if h < after]
    of_03 = {hour_key(h) for h in service_date_hours(params, dt.date(2025, 9, 3))}
    neighbour = {"2025-09-03": [k for k in lost if k in of_03]}   # its last hours are 09-04's first
    assert orch.overdue_days(ctx, deadline) == neighbour, "09-04 alone: no ingest run says it is a gap"
    # the daily ingest run of 09-04 found no raw data (the poller was down)
    result = ingest.run(params, layout, local_midnight_utc(down), after)
    assert len(result["missing_hours"]) == 24
    found = orch.overdue_days(ctx, deadline)
    assert found == {**neighbour, "2025-09-04": lost}, "09-01 is before the deployment began: no gap"
    assert "2025-09-04: 24 hour(s) never ingested" in orch.overdue_message(found)
