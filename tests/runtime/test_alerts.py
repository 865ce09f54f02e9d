"""The alert outbox against a real SMTP server (aiosmtpd on loopback), on the SQLite file and on
PostgreSQL: nothing lost, nothing doubled, no jam after a permanent rejection, no spam after a partial one."""

from __future__ import annotations

import datetime as dt
import json
import threading
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller

from pipelines.cli import main as cli_main
from pipelines.config import load_params
from pipelines.runtime import alerts, outbox
from pipelines.state import db
from pipelines.storage import Layout
from tests.services import state_database
from tests.smtp_server import Server, free_port

pytestmark = pytest.mark.integration

WHEN = dt.datetime(2025, 9, 20, 22, tzinfo=dt.UTC)
LATER = dt.timedelta(hours=3)  # past any backoff of the first attempts


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request, layout, monkeypatch):
    yield from state_database(request.param, db.database_url(layout), monkeypatch)


@pytest.fixture()
def smtp(monkeypatch):
    """Start a server with server(handler); it is the `smtp_default` connection on a free loopback port."""
    port, running = free_port(), []
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 5}}))

    def start(handler: Server) -> Server:
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        running.append(controller)
        return handler

    yield start
    for controller in running:
        controller.stop()


def failure_context(task: str) -> dict:
    ti = SimpleNamespace(dag_id="build_dataset", run_id="scheduled__2025-09-20", task_id=task, map_index=-1,
                         try_number=3, end_date=WHEN)
    return {"ti": ti, "exception": RuntimeError(f"{task} broke")}


def alert(subject: str, body: str = "x") -> alerts.Alert:
    return alerts.Alert(f"test|{subject}", subject, body, WHEN)


def test_alerts_survive_a_server_outage_and_arrive_once(params, layout, state, smtp):
    first = alerts.raise_alert(params, layout, alerts.failure_alert(failure_context("detect_departures")))
    second = alerts.raise_alert(params, layout, alerts.failure_alert(failure_context("build_features")))
    assert first["sent"] == 0 and second["pending"] == 2 and "Unreachable" not in second["error"]
    assert "smtp_default" in second["error"]
    again = alerts.raise_alert(params, layout, alerts.failure_alert(failure_context("build_features")))
    assert again["pending"] == 2, "the same incident must not queue a second message"
    server = smtp(Server())
    assert alerts.flush_outbox(params, layout)["sent"] == 0, "both wait out their backoff"
    later = dt.datetime.now(dt.UTC) + LATER
    assert outbox.flush(params, layout, later) == {"sent": 2, "dead": 0, "pending": 0}
    assert outbox.flush(params, layout, later + LATER) == {"sent": 0, "dead": 0, "pending": 0}
    assert sorted(server.to("ml-oncall@localhost")) == sorted([first["message_id"], second["message_id"]])
    body = server.deliveries[0][1].get_payload()
    assert "failed" in body and "build_dataset" in server.deliveries[0][1]["Subject"]


def test_a_permanent_rejection_is_dead_lettered_and_later_alerts_go(params, layout, state, smtp, capsys):
    server = smtp(Server())
    poisoned = alerts.raise_alert(params, layout, alert("bad one", body="POISON"))
    assert poisoned["dead"] == 1 and poisoned["pending"] == 0
    fine = alerts.raise_alert(params, layout, alert("good one"))
    assert fine["sent"] == 1 and server.to("ml-oncall@localhost") == [fine["message_id"]]
    assert outbox.counts(layout) == {"dead": 1, "sent": 1}
    assert cli_main(["alerts", "--home", str(layout.root), "--state", "dead"]) == 0
    shown = capsys.readouterr().out
    assert "1 dead" in shown and "bad one" in shown and "554" in shown and "good one" not in shown


def test_a_partial_refusal_is_never_resent_to_the_accepted(layout, state, smtp):
    people = ["ok@localhost", "gone@localhost", "busy@localhost"]
    params = load_params(overrides={"alerts.recipients": people})
    layout = Layout(params, layout.root)
    server = smtp(Server(rcpt={"gone@localhost": ["550 5.1.1 no such user"],
                               "busy@localhost": ["451 4.2.1 mailbox busy", None]}))
    raised = alerts.raise_alert(params, layout, alert("partly refused"))
    assert raised["pending"] == 1
    for _ in range(3):  # later flushes: only the recipient refused for now is tried again
        outbox.flush(params, layout, dt.datetime.now(dt.UTC) + LATER)
    assert server.to("ok@localhost") == server.to("busy@localhost") == [raised["message_id"]]
    assert server.to("gone@localhost") == []
    [message] = outbox.messages(layout)
    assert message["state"] == "dead" and message["attempts"] == 2
    states = {r["address"]: (r["state"], r["code"]) for r in message["recipients"]}
    assert states == {"ok@localhost": ("accepted", 250), "gone@localhost": ("dead", 550),
                      "busy@localhost": ("accepted", 250)}


def test_retries_back_off(params, layout, state, smtp):
    alerts.enqueue(params, layout, alert("waits"))
    start = dt.datetime.now(dt.UTC)
    assert "error" in outbox.flush(params, layout, start)  # no server yet
    [message] = outbox.messages(layout)
    assert message["attempts"] == 1
    assert message["next_attempt_at"] == (start + dt.timedelta(seconds=60)).isoformat(timespec="microseconds")
    server = smtp(Server())
    assert outbox.flush(params, layout, start + dt.timedelta(seconds=30))["sent"] == 0  # not due: no try
    assert server.deliveries == [] and outbox.messages(layout)[0]["attempts"] == 1
    assert outbox.flush(params, layout, start + dt.timedelta(seconds=61))["sent"] == 1


def test_two_flushers_at_once_send_each_message_once(params, layout, state, smtp):
    server = smtp(Server())
    ids = [alerts.enqueue(params, layout, alert(f"message {i}")) for i in range(6)]
    results: list[dict] = []
    flushers = [threading.Thread(target=lambda: results.append(outbox.flush(params, layout)))
                for _ in range(2)]
    for t in flushers:
        t.start()
    for t in flushers:
        t.join(timeout=120)
    assert sum(r["sent"] for r in results) == 6
    assert sorted(server.to("ml-oncall@localhost")) == sorted(ids)


def test_rendering_is_deterministic_and_ids_are_stable(params):
    message = {"subject": "drift on 2025-09-15", "body": "x", "attachments": [], "incident_key": None}
    monitor = alerts.monitor_alert(message, "2025-09-15", WHEN)
    twin = alerts.monitor_alert(dict(message), "2025-09-15", WHEN)
    assert alerts.render(monitor, "a@b", ["c@d"]) == alerts.render(twin, "a@b", ["c@d"])
    assert monitor.message_id == twin.message_id
    other_day = alerts.monitor_alert(message, "2025-09-16", WHEN)
    assert monitor.message_id != other_day.message_id
    incident = alerts.monitor_alert({**message, "incident_key": "drift|2025-09-15"}, "2025-09-16", WHEN)
    assert incident.key == "drift|2025-09-15", "an incident's key wins over the day"


def test_failure_callback_never_raises(layout, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    alerts.on_task_failure(failure_context("train"))  # no SMTP connection at all: queued, not raised
    [message] = outbox.messages(layout)
    assert message["state"] == "pending" and "smtp_default" in message["last_error"]
