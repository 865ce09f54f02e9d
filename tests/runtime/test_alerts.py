"""The durable outbox against a real SMTP server (aiosmtpd on loopback): nothing lost, nothing doubled."""

from __future__ import annotations

import datetime as dt
import email
import json
import socket
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from pipelines.runtime import alerts
from pipelines.runtime.smtp import connection

pytestmark = pytest.mark.integration

WHEN = dt.datetime(2025, 9, 20, 22, tzinfo=dt.UTC)


class Recorder(Sink):
    """Keeps every accepted message."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def smtp(monkeypatch):
    """A plain SMTP server on a free loopback port, wired as the `smtp_default` connection."""
    port, recorder = free_port(), Recorder()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "railcast@localhost",
                  "timeout": 5}}))
    server = Controller(recorder, hostname="127.0.0.1", port=port)
    yield server, recorder
    try:
        server.stop()
    except AssertionError:  # already stopped by the test
        pass


def failure_context(task: str) -> dict:
    ti = SimpleNamespace(dag_id="build_dataset", run_id="scheduled__2025-09-20", task_id=task, map_index=-1,
                         try_number=3, end_date=WHEN)
    return {"ti": ti, "exception": RuntimeError(f"{task} broke")}


def test_alerts_survive_a_server_outage_and_arrive_once(params, layout, smtp):
    server, recorder = smtp  # not started: the server is down
    first = alerts.raise_alert(params, layout, alerts.failure_alert(failure_context("detect_departures")))
    second = alerts.raise_alert(params, layout, alerts.failure_alert(failure_context("build_features")))
    assert first["sent"] == 0 and second["pending"] == 2 and "error" in second
    again = alerts.raise_alert(params, layout, alerts.failure_alert(failure_context("build_features")))
    assert again["pending"] == 2, "the same incident must not queue a second message"
    server.start()
    assert alerts.flush_outbox(params, layout) == {"sent": 2, "pending": 0}
    assert alerts.flush_outbox(params, layout) == {"sent": 0, "pending": 0}
    ids = [m["Message-ID"] for m in recorder.messages]
    assert sorted(ids) == sorted({first["message_id"], second["message_id"]})
    assert len(list((layout.outbox / "sent").glob("*.eml"))) == 2
    body = recorder.messages[0].get_payload()
    assert "failed" in body and "build_dataset" in recorder.messages[0]["Subject"]


def test_a_sent_alert_is_not_queued_again(params, layout, smtp):
    server, recorder = smtp
    server.start()
    decision = {"version": "3", "champion_version": "2", "as_of": WHEN.isoformat(), "passed": False,
                "reason": "challenger MAE 1% below champion, needs 2%", "record_file": "/x/decision-v3.json"}
    promotion = {"moved": False, "reason": "gate failed: challenger MAE 1% below champion, needs 2%"}
    alert = alerts.decision_alert(decision, promotion)
    assert alerts.raise_alert(params, layout, alert)["sent"] == 1
    assert alerts.raise_alert(params, layout, alert)["sent"] == 0
    assert len(recorder.messages) == 1
    assert "not promoted" in recorder.messages[0]["Subject"]
    assert "needs 2%" in recorder.messages[0].get_payload()


def test_rendering_is_deterministic_and_ids_are_stable(params):
    message = {"subject": "drift on 2025-09-15", "body": "x", "attachments": [], "incident_key": None}
    alert = alerts.monitor_alert(message, "2025-09-15", WHEN)
    twin = alerts.monitor_alert(dict(message), "2025-09-15", WHEN)
    assert alerts.render(alert, "a@b", ["c@d"]) == alerts.render(twin, "a@b", ["c@d"])
    assert alert.message_id == twin.message_id
    other_day = alerts.monitor_alert(message, "2025-09-16", WHEN)
    assert alert.message_id != other_day.message_id
    incident = alerts.monitor_alert({**message, "incident_key": "drift|2025-09-15"}, "2025-09-16", WHEN)
    assert incident.key == "drift|2025-09-15", "an incident's key wins over the day"


def test_connection_uri_form(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MAILER", "smtp://u%40x:pw@127.0.0.1:2525?disable_ssl=true&disable_tls=true")
    conn = connection("mailer")
    got = (conn["host"], conn["port"], conn["login"], conn["extra"]["disable_ssl"])
    assert got == ("127.0.0.1", 2525, "u@x", "true")


def test_failure_callback_never_raises(layout, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    alerts.on_task_failure(failure_context("train"))  # no SMTP connection at all: queued, not raised
    assert len(alerts.pending_messages(layout)) == 1
