"""The monitor stage on real Evidently and files in a temporary data root: verdicts, records, report, alerts.

The champion's reference comes from a file (monitor_inputs.FileReference); the MLflow registry path is
covered in test_monitor_registry.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import json
import re

import numpy as np
import pytest

from benchmarks.bench_monitor import VERSION, window_frame, write_reference, write_window
from pipelines import schema as s
from pipelines.cli import main as cli_main
from pipelines.config import load_params
from pipelines.datasets import close_time
from pipelines.monitoring import checks as monitor_checks
from pipelines.monitoring import history as monitor_history
from pipelines.monitoring import monitor
from pipelines.monitoring.inputs import FileReference
from pipelines.runtime import alerts, outbox
from pipelines.storage import Layout
from pipelines.timeutil import parse_instant
from tests.airflow_helpers import free_port

pytestmark = pytest.mark.integration

ROWS = 1200
EXTERNAL = re.compile(r"<(script|link|img)\b[^>]*\b(src|href)\s*=", re.IGNORECASE)
DAY = dt.date(2025, 9, 20)


def days(n: int) -> list[dt.date]:
    return [DAY + dt.timedelta(days=i) for i in range(n)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    # 2 of 3 windows: these tests follow an incident's mechanics over a few windows (the default, 3 in a
    # row, was chosen on the policy benchmark and is a params value, not a rule of the code)
    params = load_params(overrides={"monitor.min_post_event_days": 2, "monitor.persistence_k": 2})
    root = tmp_path_factory.mktemp("monitor")
    reference = FileReference(write_reference(window_frame(DAY - dt.timedelta(days=3), 2 * ROWS, 2),
                                              root / "reference.parquet"), VERSION)
    return params, root, reference


def check(params, layout, day, reference):
    return monitor.run(params, layout, day, reference=reference, log_mlflow=False)


@pytest.fixture(scope="module")
def quiet(setup):
    params, root, reference = setup
    layout = Layout(params, root / "quiet")
    write_window(layout, window_frame(DAY, ROWS, 1))
    return layout, check(params, layout, DAY, reference)


@pytest.fixture(scope="module")
def incident(setup):
    """Three days shifted by 8 minutes: drift (1 of 3 windows), retrain (2 of 3, 2 post-event days), drift."""
    params, root, reference = setup
    layout = Layout(params, root / "incident")
    results = []
    for i, day in enumerate(days(3)):
        write_window(layout, window_frame(day, ROWS, 10 + i, minutes=8.0))
        results.append(check(params, layout, day, reference))
    return layout, results


def test_same_distribution_is_no_drift(quiet):
    _, result = quiet
    evidence = result["evidence"]
    assert result["verdict"] == "no_drift" and result["alert"] is None, result["reason"]
    assert evidence["drift_share"]["share"] < evidence["drift_share"]["threshold"]
    assert not any(evidence["signals"].values())
    assert evidence["segments_tested"] > 0 and evidence["segments"] == []


def test_decision_record_report_and_history_written_identically_on_rerun(setup, quiet):
    params, _, reference = setup
    layout, result = quiet
    record = json.loads(open(result["record"]).read())
    assert record["verdict"] == "no_drift" and record["thresholds"]["num_method"] == params.monitor.num_method
    assert set(record["evidence"]["features"]) >= {s.DELAY_AT_PRED, s.CORRIDOR}
    assert s.HOUR not in record["evidence"]["features"]  # calendar features excluded
    html = open(result["report"], encoding="utf-8").read()
    assert "<script" in html and not EXTERNAL.search(html)  # self-contained: nothing loaded from elsewhere
    files = [result["record"], result["report"]]
    before = [open(f, "rb").read() for f in files]
    stored = monitor_history.day_record(layout, DAY)
    assert stored["verdict"] == "no_drift" and stored["alerted"] is False
    again = check(params, layout, DAY, reference)
    assert again["verdict"] == "no_drift"
    assert [open(f, "rb").read() for f in files] == before
    assert monitor_history.day_record(layout, DAY) == stored and len(monitor_history.days_before(
        layout, DAY + dt.timedelta(days=1))) == 1
    assert monitor.read_decision(params, layout, DAY)["verdict"] == "no_drift"
    assert record["evidence"]["served_live"]["n_predicted"] == 0   # no live scorer ran: tests/live


def test_the_api_exports_the_newest_checks_figures(quiet):
    from prometheus_client import CollectorRegistry, generate_latest

    from pipelines.serving.metrics import MonitorFigures

    layout, result = quiet
    evidence = json.loads(open(result["record"]).read())["evidence"]
    registry = CollectorRegistry()
    registry.register(MonitorFigures(layout))
    samples = dict(line.rsplit(" ", 1) for line in generate_latest(registry).decode().splitlines()
                   if line and not line.startswith("#"))
    assert float(samples["railcast_monitor_drift_share"]) == evidence["drift_share"]["share"]
    assert samples["railcast_monitor_drifted"] == "0.0" and "railcast_monitor_live_mae" not in samples
    assert float(samples["railcast_monitor_day_timestamp_seconds"]) == dt.datetime.combine(
        DAY, dt.time(), dt.UTC).timestamp()


def test_shifted_window_defers_then_retrains_once_per_incident(incident):
    _, (first, second, third) = incident
    assert [r["verdict"] for r in (first, second, third)] == ["drift", "retrain", "drift"]
    assert "1 of the last 3 windows" in first["reason"]
    ev = second["evidence"]
    assert ev["event_start"] == DAY.isoformat() and ev["post_event_days"] == [d.isoformat() for d in days(2)]
    assert ev["signals"]["data_drift"] and ev["signals"]["prediction_drift"]
    delay = ev["features"][s.DELAY_AT_PRED]
    assert delay["drifted"] and delay["method"] == "wasserstein"
    # the champion never changes here: the retrain counts as refused and waits retry_after_days
    assert "attempt 2 on" in third["reason"], third["reason"]
    # one email per incident, within one monitoring interval: raised on its first drift verdict, not again
    assert first["alert"]["incident_key"] == f"drift|{DAY}"
    assert "No retrain yet" in first["alert"]["body"] and "1 of the last 3 windows" in first["alert"]["body"]
    assert second["alert"] is None and third["alert"] is None


def test_a_flapping_drift_is_one_incident_one_email_and_one_retrain(setup):
    """Drifted, quiet, drifted, quiet, drifted: before, each flap started an incident of its own (an
    email each, and never enough post-event days for a retrain). Now one incident, one email; its
    retrain is retried only because the gate (here: nobody) left the champion in place."""
    params, root, reference = setup
    layout = Layout(params, root / "flapping")
    results = []
    for i, day in enumerate(days(5)):
        write_window(layout, window_frame(day, ROWS, 20 + i, minutes=8.0 if i % 2 == 0 else 0.0))
        results.append(check(params, layout, day, reference))
    # the champion never changes here, so the retrain of day 3 counts as refused: day 5 tries again
    assert [r["verdict"] for r in results] == ["drift", "no_drift", "retrain", "no_drift", "retrain"]
    assert "attempt 2 of 3" in results[4]["reason"]
    drifted = [r for r in results if r["verdict"] != "no_drift"]
    assert {r["evidence"]["incident_key"] for r in drifted} == {f"drift|{DAY}"}
    assert [r["alert"] is not None for r in results] == [True, False, False, False, False]


def test_an_mlflow_outage_never_loses_the_drift_email(setup, monkeypatch):
    """Before, the day was recorded as alerted, then logged to MLflow, and only then the alert queued:
    an MLflow outage through every retry of the task lost the incident's only email."""
    params, root, reference = setup
    layout = Layout(params, root / "outage")

    class Logged(FileReference):   # a champion with an MLflow run, on a tracking server that is down
        def run_id(self, version):
            return "0" * 32

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    champion = Logged(reference.path, VERSION)
    write_window(layout, window_frame(DAY, ROWS, 30, minutes=8.0))
    queued = []

    def deliver(alert):
        end = close_time(params, DAY)
        queued.append(alerts.enqueue(params, layout, alerts.monitor_alert(alert, DAY.isoformat(), end)))

    with pytest.raises(Exception, match="(?i)connect|refused|max retries"):
        monitor.run(params, layout, DAY, reference=champion, deliver=deliver)
    assert len(queued) == 1 and [m["state"] for m in outbox.messages(layout)] == ["pending"]
    again = monitor.run(params, layout, DAY, reference=champion, log_mlflow=False, deliver=deliver)
    assert again["verdict"] == "drift" and len(set(queued)) == 1, "the retry queues nothing twice"
    assert len(outbox.messages(layout)) == 1


def test_drift_email_carries_scores_next_steps_and_report_once(setup, incident):
    params, _, _ = setup
    layout, (first, second, third) = incident
    body = first["alert"]["body"]
    assert "delay_at_pred: wasserstein score" in body and "threshold 0.300" in body
    assert "What happens next" in body and f"holdout on or after {DAY}" in body
    assert "window skill" in body
    # later verdicts of the incident share its key; the one message is built from the monitor's words
    key = first["alert"]["incident_key"]
    assert second["evidence"]["incident_key"] == third["evidence"]["incident_key"] == key
    built = [alerts.monitor_alert(first["alert"], r["day"], parse_instant(r["evidence"]["as_of"]))
             for r in (first, second)]
    assert built[0].key == built[1].key == first["alert"]["incident_key"]
    ids = {alerts.enqueue(params, layout, a) for a in built}
    [queued] = outbox.messages(layout)
    assert ids == {queued["message_id"]} and queued["state"] == "pending"
    msg = email.message_from_bytes(queued["content"], policy=email.policy.SMTP)
    names = [part.get_filename() for part in msg.iter_attachments()]
    assert names == ["report.html"]


def test_drift_confined_to_one_corridor_shows_in_segments(setup):
    params, root, reference = setup
    layout = Layout(params, root / "corridor")
    write_window(layout, window_frame(DAY, ROWS, 3, minutes=20.0, corridor="Rhein-Main"))
    ev = check(params, layout, DAY, reference)["evidence"]
    corridors = [seg for seg in ev["segments"] if seg["segment"] == s.CORRIDOR]
    assert ev["signals"]["segment_drift"] and corridors
    assert {seg["value"] for seg in corridors} == {"Rhein-Main"}
    assert all(seg["score"] >= seg["threshold"] for seg in corridors)


def test_edge_inputs_never_crash_and_never_pass_as_no_drift(setup):
    params, root, reference = setup
    frame = window_frame(DAY, ROWS, 4)
    frame[s.DEST_BOARD_FORECAST] = np.nan          # all-NaN column
    frame = frame.drop(columns=[s.N_REASONS])      # a feature the window lacks altogether
    frame[s.REMAINING_STOPS] = 3                   # constant column
    frame[s.REASON_CODE] = "none"                  # constant categorical
    frame.loc[frame.index[:300], s.LINE] = "X 99"  # a line the reference never saw
    _, ev = monitor_checks.check_window(params.monitor, reference.frame(VERSION), frame)
    assert ev["drifted"]
    assert ev["features"][s.DEST_BOARD_FORECAST]["status"] == "untestable"
    assert ev["features"][s.DEST_BOARD_FORECAST]["drifted"]
    assert s.DEST_BOARD_FORECAST in ev["null_rates"]
    assert ev["unseen_categories"][s.LINE]["share"] == pytest.approx(300 / ROWS)
    assert ev["features"][s.REMAINING_STOPS]["drifted"]
    assert ev["features"][s.N_REASONS]["drifted"] and ev["features"][s.N_REASONS]["status"] == "untestable"


def test_a_batch_the_features_gate_failed_is_left_out_and_named(setup):
    """Before, monitor (and score and train) read a features batch whatever its validation verdict."""
    params, root, reference = setup
    two_days = dataclasses.replace(params, monitor=dataclasses.replace(params.monitor, window_days=2))
    layout = Layout(params, root / "gate")
    write_window(layout, window_frame(DAY - dt.timedelta(days=1), ROWS, 6))
    failing = window_frame(DAY, ROWS, 7).drop(columns=[s.N_REASONS])   # fails the table-level rules
    write_window(layout, failing)
    result = check(two_days, layout, DAY, reference)
    refused = result["evidence"]["refused_days"]
    assert list(refused) == [DAY.isoformat()]
    assert "validate_features failed the batch" in refused[DAY.isoformat()]
    assert f"features-{DAY:%Y-%m-%d}.html" in refused[DAY.isoformat()], "names the report to open"
    assert result["evidence"]["rows"]["current"] == ROWS, "only the passed day is in the window"
    alone = check(params, layout, DAY, reference)   # a one-day window of the failed batch: nothing to judge
    assert alone["verdict"] == "empty_window" and list(alone["evidence"]["refused_days"]) == [DAY.isoformat()]


def test_empty_window_has_its_own_verdict_and_alert(setup):
    params, root, reference = setup
    layout = Layout(params, root / "empty")
    write_window(layout, window_frame(DAY, ROWS, 5).iloc[:0], day=DAY)
    result = check(params, layout, DAY, reference)
    assert result["verdict"] == "empty_window" and result["evidence"]["drifted"] is None
    assert result["alert"]["incident_key"] == f"empty_window|{DAY}"
    assert "not a 'no drift'" in result["alert"]["body"]
    no_file = check(params, layout, DAY + dt.timedelta(days=1), reference)
    assert no_file["verdict"] == "empty_window"


def test_no_champion_then_bootstrap(setup):
    params, root, _ = setup
    small = dataclasses.replace(params, train=dataclasses.replace(params.train, min_days=2, holdout_days=1))
    layout = Layout(small, root / "bootstrap")
    later = FileReference(root / "reference.parquet", VERSION, since=DAY + dt.timedelta(days=30))
    for i, day in enumerate(days(3)):
        write_window(layout, window_frame(day, 60, 20 + i))
    early = check(small, layout, days(3)[1], later)
    assert early["verdict"] == "no_champion" and "training window" in early["reason"]
    ready = check(small, layout, days(3)[2], later)
    assert ready["verdict"] == "retrain" and ready["reason"].startswith("bootstrap")
    assert ready["alert"]["incident_key"] == f"bootstrap|{days(3)[2]}"


def test_cli_without_a_registered_champion(setup, capsys):
    _, root, _ = setup
    code = cli_main(["monitor", "--home", str(root / "cli"), "--date", DAY.isoformat()])
    assert code == 0 and '"verdict": "no_champion"' in capsys.readouterr().out


def test_an_early_promotion_gets_one_follow_up_retrain_once_the_new_regime_has_matured(setup):
    """Before, the first promotion answered an incident: a model trained with one post-event day served
    on, because the new champion's own reference no longer showed the drift. Now the incident is retrained
    once more when settle_post_event_days have matured, drift or not, and only once."""
    params, root, reference = setup
    params = dataclasses.replace(params, monitor=dataclasses.replace(params.monitor,
                                                                     settle_post_event_days=4))
    layout = Layout(params, root / "follow-up")

    class Promoted(FileReference):   # the day-2 retrain passed the gate: version 2 serves from day 3
        def champion(self, day):
            return VERSION if day <= DAY + dt.timedelta(days=1) else "2"

    champion = Promoted(reference.path, VERSION)
    results = []
    for i, day in enumerate(days(6)):
        version = champion.champion(day)
        shifted = window_frame(day, ROWS, 40 + i, minutes=8.0 if i < 2 else 0.0)
        write_window(layout, shifted, version=version)
        results.append(monitor.run(params, layout, day, reference=champion, log_mlflow=False))
    verdicts = [r["verdict"] for r in results]
    assert verdicts == ["drift", "retrain", "no_drift", "retrain", "no_drift", "no_drift"], verdicts
    follow_up = results[3]
    assert "follow-up of the incident started 2025-09-20" in follow_up["reason"], follow_up["reason"]
    assert "trained with 2 post-event day(s); 4 have matured" in follow_up["reason"]
    assert follow_up["evidence"]["event_start"] == DAY.isoformat() and follow_up["alert"] is None


def write_departures(layout: Layout, day: dt.date, n: int, cancelled: int) -> None:
    """A departures partition of `n` departures, the first `cancelled` of them cancelled."""
    import pyarrow as pa

    from pipelines.storage import write_parquet

    ids = [f"{day}-{i}" for i in range(n)]
    table = pa.table({s.DEPARTURE_ID: ids, s.IS_CANCELLED: [i < cancelled for i in range(n)]})
    write_parquet(table, layout.day_file("departures", day))


@pytest.mark.parametrize(("cancelled_now", "rise", "surge"), [(150, 0.065, True), (95, 0.065, False),
                                                              (150, 0.0, False)],
                         ids=["storm: 15% against 4%", "a bad ordinary day: 9.5%", "check off"])
def test_a_surge_of_cancelled_departures_is_drift_the_feature_rows_cannot_show(setup, cancelled_now, rise,
                                                                              surge):
    # the feature rows are the quiet window's: cancelled trains have none, only departures count them
    params, root, reference = setup
    monitor_params = dataclasses.replace(params.monitor, cancelled_share_rise=rise)
    params = dataclasses.replace(params, monitor=monitor_params)
    layout = Layout(params, root / f"cancelled-{cancelled_now}-{rise}")
    write_window(layout, window_frame(DAY, ROWS, 1))
    before = [DAY - dt.timedelta(days=k) for k in range(1, params.monitor.cancelled_baseline_days + 1)]
    for k, day in enumerate(before):   # the baseline: 3% and 5% by turns, 4% in all
        write_departures(layout, day, 1000, 30 if k % 2 else 50)
    write_departures(layout, DAY - dt.timedelta(days=len(before) + 1), 1000, 900)   # too old to count
    write_departures(layout, DAY, 1000, cancelled_now)
    result = check(params, layout, DAY, reference)
    found = result["evidence"]["cancellations"]
    assert found["current"] == {"days": [DAY.isoformat()], "departures": 1000, "cancelled": cancelled_now,
                                "share": cancelled_now / 1000}
    assert found["baseline"]["share"] == 0.04 and found["baseline"]["days"] == [d.isoformat()
                                                                                for d in sorted(before)]
    assert found["judged"] == (rise > 0) and found["drifted"] == surge
    assert result["evidence"]["signals"]["cancellation_surge"] == surge
    others = {k: v for k, v in result["evidence"]["signals"].items() if k != "cancellation_surge"}
    assert not any(others.values()), others
    assert (result["verdict"] == "drift") == surge, result["reason"]
    if surge:
        line = "cancelled departures: 0.150 of 1000 (the 14 days before: 0.040 of 14000"
        assert line in result["alert"]["body"], result["alert"]["body"]


def test_a_surge_before_the_first_champion_is_one_drift_incident_and_one_email(setup):
    """Before, the monitor checked nothing without a champion: a strike in the first days of a deployment
    sent no email. The cancellation check needs no model; the bootstrap rule is unchanged."""
    params, root, _ = setup
    layout = Layout(params, root / "surge-without-champion")
    nobody = FileReference(root / "reference.parquet", VERSION, since=DAY + dt.timedelta(days=30))
    baseline = params.monitor.cancelled_baseline_days
    start = DAY - dt.timedelta(days=baseline // 2)
    for k in range(baseline // 2):   # half the baseline days exist: judged (the deployment's first week)
        write_departures(layout, start + dt.timedelta(days=k), 1000, 40)
    early = check(params, layout, start + dt.timedelta(days=1), nobody)   # one baseline day: not judged
    assert not early["evidence"]["cancellations"]["judged"] and early["alert"] is None
    results = []
    for day, cancelled in zip(days(3), (300, 250, 40), strict=True):
        write_departures(layout, day, 1000, cancelled)
        results.append(check(params, layout, day, nobody))
    assert [r["verdict"] for r in results] == ["no_champion"] * 3, [r["reason"] for r in results]
    assert [r["evidence"]["drifted"] for r in results] == [True, True, False]
    assert results[0]["evidence"]["incident_key"] == results[1]["evidence"]["incident_key"] == f"drift|{DAY}"
    assert f"cancellation surge since {DAY}" in results[1]["reason"]
    first = results[0]["alert"]
    assert first["subject"] == f"drift since {DAY}: cancellation surge, no champion yet"
    assert "cancelled departures: 0.300 of 1000 (the 7 days before: 0.040 of 7000" in first["body"], first
    assert results[1]["alert"] is None and results[2]["alert"] is None, "one email per incident"
    recorded = [r for r in monitor_history.days_before(layout, DAY + dt.timedelta(days=3))
                if r["day"] >= DAY.isoformat()]
    assert [r["drifted"] for r in recorded] == [True, True, False]
    assert all(r["event_start"] is None for r in recorded), "a bootstrap verdict is no incident's retrain"
