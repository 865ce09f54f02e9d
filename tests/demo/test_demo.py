"""`railcast demo`: calendar intervals, mail capture, home handling and reports (fast), and the closed loop
end to end through `airflow standalone` on a shortened calendar."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
import yaml

from pipelines.config import PROJECT_ROOT, load_params
from pipelines.datasets import closed_service_dates
from pipelines.demo import on_airflow as demo_airflow
from pipelines.demo import report as demo_report
from pipelines.demo import run as demo
from pipelines.errors import StageError
from pipelines.monitoring import history as monitor_history
from pipelines.ops.mail_capture import MailCapture, subjects
from pipelines.registry import history
from pipelines.runtime import alerts, smtp
from pipelines.storage import Layout
from tests.airflow_helpers import slow

pytestmark = pytest.mark.e2e

SUMMARY_KEYS = {"scenario", "event_start_day", "elapsed_seconds", "emails", "reports", "promotions", "days"}
DAY_KEYS = {"day", "date", "drift_verdict", "retrain_triggered", "champion_version", "mae_champion",
            "mae_persistence", "mae_without_retraining", "mae_board_forecast"}


@pytest.mark.parametrize("day", [dt.date(2025, 9, 1), dt.date(2025, 10, 25), dt.date(2025, 10, 26),
                                 dt.date(2025, 3, 30)])
@pytest.mark.parametrize("dag_id", ["ingest", "build_dataset", "score", "monitor"])
def test_each_runs_interval_closes_exactly_its_service_date(params, dag_id, day) -> None:
    start, end = demo_airflow.interval(dag_id, day)
    expected = day - dt.timedelta(days=1) if dag_id == "ingest" else day
    assert closed_service_dates(params, start, end) == [expected]
    assert start.tzinfo is not None and end > start


def test_a_manual_runs_inferred_interval_is_the_period_before_its_logical_date() -> None:
    """Why the driver sends the data interval explicitly: Airflow's inference is one period earlier."""
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    start, end = demo_airflow.interval("score", dt.date(2025, 9, 15))
    inferred = CronDataIntervalTimetable("0 3 * * *", "Europe/Berlin").infer_manual_data_interval(
        run_after=pendulum.instance(start))
    assert inferred.end == start and inferred.start == start - dt.timedelta(days=1)


def test_capture_writes_each_message_once_as_eml(tmp_path: Path, params, monkeypatch) -> None:
    layout = Layout(params, tmp_path / "home")
    with MailCapture(tmp_path / "emails") as capture:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(capture.connection("railcast@localhost")))
        alert = alerts.Alert("drift|2025-09-16", "drift detected on 2025-09-16", "body",
                             dt.datetime(2025, 9, 17, 2, tzinfo=dt.UTC))
        assert alerts.raise_alert(params, layout, alert)["sent"] == 1
        # a redelivery (crash between the server's acceptance and the record) keeps one file per Message-ID
        with smtp.session("smtp_default") as send:
            assert send("railcast@localhost", ["x@localhost"],
                        alerts.render(alert, "railcast@localhost", ["x@localhost"])) == {}
        files = capture.messages()
    assert len(files) == 1 and files[0].suffix == ".eml"
    assert subjects(files) == ["[railcast] drift detected on 2025-09-16"]
    assert alert.digest in files[0].name


def test_demo_params_round_trip_through_the_strict_loader(tmp_path: Path, params) -> None:
    raw = demo.demo_params(params, "construction", 5)
    path = demo.write_params(raw, Layout(params, tmp_path))
    loaded = load_params(path)
    assert loaded.simulation.scenario == "construction" and loaded.simulation.days == 5
    assert loaded.train == params.train and loaded.simulation.scenarios == params.simulation.scenarios


def test_a_demo_starts_clean_but_never_deletes_foreign_state(tmp_path: Path, params) -> None:
    said: list[str] = []
    foreign = Layout(params, tmp_path / "foreign")
    (foreign.root / "snapshots").mkdir(parents=True)
    with pytest.raises(StageError, match="make clean"):
        demo.prepare_home(foreign, said.append)
    assert (foreign.root / "snapshots").is_dir()
    previous = Layout(params, tmp_path / "previous")
    demo.write_params(demo.demo_params(params, "construction", 3), previous)
    (previous.root / "mlflow").mkdir()
    demo.prepare_home(previous, said.append)
    assert list(previous.root.iterdir()) == [] and "previous demo" in said[0]


def test_summary_table_plot_and_html(tmp_path: Path, params) -> None:
    from pipelines.demo.page import write_html, write_plot

    layout = Layout(params, tmp_path)
    history.append_audit(layout, {"action": "move", "alias": "champion", "from": None, "to": "1",
                                  "who": "airflow:retrain/asset_triggered__x", "why": "gate passed",
                                  "when": "2025-09-06T02:00:00+00:00"})
    monitor_history.record_day(layout, {"day": "2025-09-04", "verdict": "retrain", "alerted": True,
                                        "reason": "bootstrap: no champion yet"})
    retrains = [{"run_id": "asset_triggered__x", "run_type": "asset_triggered", "state": "success"}]
    as_of = dt.datetime(2025, 9, 10, tzinfo=dt.UTC)
    days = [demo_report.day_record(params, layout, 4, dt.date(2025, 9, 4), as_of, retrains)]
    promoted = demo_report.promotions(layout, days, {r["run_id"]: r for r in retrains})
    summary = demo_report.build_summary(params, layout, "construction", 15, days, promoted,
                                        {"elapsed_seconds": 1.0})
    assert SUMMARY_KEYS <= set(summary) and DAY_KEYS <= set(summary["days"][0])
    assert summary["days"][0]["retrain_triggered"] is False  # the bootstrap does not count
    assert promoted == [{"day": 4, "version": "1", "run_type": "asset_triggered",
                         "run_id": "asset_triggered__x", "reason": "bootstrap: no champion yet",
                         "when": "2025-09-06T02:00:00+00:00"}]
    assert "bootstrap" in demo_report.format_table(summary)
    png = write_plot(summary, tmp_path / "skill.png")
    page = write_html(summary, png, tmp_path / "summary.html").read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in page and "asset_triggered__x" in page


def small_params(root: Path) -> Path:
    """Small training, the event on day 4, short cooldown and persistence: the loop closes within 6
    simulated days."""
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    raw["train"].update({"window_days": 4, "min_days": 2, "holdout_days": 1, "num_boost_round": 60,
                         "early_stopping_rounds": 10})
    raw["train"]["lgb_params"]["num_threads"] = 1
    raw["gate"]["bootstrap_samples"] = 200
    raw["monitor"].update({"cooldown_days": 1, "min_post_event_days": 1, "persistence_k": 2})
    raw["simulation"]["scenarios"]["construction"]["start_day"] = 4
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def processes_of(airflow_home: Path) -> list[int]:
    """Live processes whose environment names this Airflow home (standalone, workers, tasks)."""
    needle = f"AIRFLOW_HOME={airflow_home}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


@pytest.fixture(scope="module")
def embedded_loop(tmp_path_factory) -> dict:
    """The closed loop through Airflow standalone on a 6-day calendar (about 3.5 min, quiet 2 cores)."""
    root = tmp_path_factory.mktemp("embedded")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        params = load_params(small_params(root))
        layout = Layout(params, root / "home")
        summary = demo.run(params, layout, "construction", days=6, timeout_s=600, live_hours=1.0)
    return {"summary": summary, "layout": layout}


def check_closed_loop(summary: dict, layout: Layout) -> None:
    """What any demo run of the 6-day construction calendar must show, in either profile."""
    on_disk = json.loads((layout.root / "reports" / "demo" / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(on_disk) and all(DAY_KEYS <= set(d) for d in on_disk["days"])
    days = summary["days"]
    assert any(d["drift_verdict"] in ("drift", "deferred", "retrain") and d["retrain_triggered"]
               for d in days), [(d["day"], d["drift_verdict"], d["reason"]) for d in days]
    assert {p["run_type"] for p in summary["promotions"]} == {"asset_triggered"}
    versions = [p["version"] for p in summary["promotions"]]
    assert len(versions) >= 2 and len(set(versions)) == len(versions), summary["promotions"]
    champions = [d["champion_version"] for d in days if d["champion_version"]]
    assert len(set(champions)) >= 2, champions  # the champion that scored the days moved
    assert summary["emails"] and all(e.endswith(".eml") for e in summary["emails"])
    mails = subjects([layout.root / e for e in summary["emails"]])
    assert any("drift" in s for s in mails) and any("promoted" in s for s in mails), mails
    assert (layout.root / "reports" / "demo" / "summary.html").exists()
    live = summary["live"]   # one simulated hour of day 7 through simulator, poller, live scorer and API
    assert "error" not in live, live
    assert live["predicted_departures"] > 100 and live["api_count"] == live["predicted_departures"]
    # arrivals within the hour: 20-26 seen (the poller starts some simulated minutes into the hour)
    assert live["matured"] >= 10 and live["mae_min"]["model"] is not None
    assert live["lead_time_min"]["median"] > 0


@slow
def test_the_closed_loop_through_airflow(embedded_loop) -> None:
    layout = embedded_loop["layout"]
    assert processes_of(layout.airflow_home) == [], "Airflow left processes behind"
    check_closed_loop(embedded_loop["summary"], layout)


@slow  # `make demo STACK=production` on the 6-day calendar: about 6 min more
def test_the_production_deployment_gives_the_same_table(embedded_loop, tmp_path: Path, monkeypatch) -> None:
    """The same demo on `railcast stack` (PostgreSQL, Redis, two Celery workers, MLflow server, S3 store):
    every task on a worker, and the same results, day by day, as the embedded profile."""
    import sqlalchemy as sa

    from pipelines.demo import on_stack
    from pipelines.ops import stack as plan
    from pipelines.ops.stack_services import drop_databases
    from tests.services import require_stack_services

    require_stack_services(plan.DEFAULT_REDIS)
    monkeypatch.setattr(on_stack, "NAME", f"rcdemo{uuid.uuid4().hex[:8]}")  # a database name per test
    monkeypatch.setenv(plan.SECRETS_DIR_ENV, str(tmp_path / "secrets"))
    params = load_params(small_params(tmp_path))
    layout = Layout(params, tmp_path / "home")
    stack = on_stack.demo_stack(layout, 0)
    try:
        summary = demo.run(params, layout, "construction", days=6, timeout_s=600, stack="production",
                           live_hours=1.0)
        engine = sa.create_engine(stack.database("airflow", "psycopg"))
        with engine.connect() as conn:
            hosts = dict(conn.execute(sa.text("SELECT hostname, count(*) FROM task_instance "
                                              "WHERE state = 'success' GROUP BY hostname")).all())
        engine.dispose()
    finally:
        drop_databases(stack)
    assert processes_of(stack.folder / "airflow") == [], "the deployment left processes behind"
    assert set(hosts) == {"worker-1", "worker-2"}, f"every task on a Celery worker, both took some: {hosts}"
    check_closed_loop(summary, layout)
    assert summary["stack"] == "production" and summary["reports"]["drift"].startswith("s3://")
    assert demo_report.format_table(summary) == demo_report.format_table(embedded_loop["summary"])


def test_api_client_retries_server_errors_and_treats_a_repeated_trigger_as_done() -> None:
    """A real HTTP server on loopback: token, a 500 (SQLite busy) then success, a 409 on re-POST."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pipelines.ops.airflow_api import AirflowApi

    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            self.rfile.read(int(self.headers["Content-Length"]))
            calls.append(f"POST {self.path}")
            if self.path == "/auth/token":
                return self._answer(201, {"access_token": "t"})
            first = calls.count(f"POST {self.path}") == 1
            detail = "database is locked" if first else "already exists"
            return self._answer(500 if first else 409, {"detail": detail})

        def do_GET(self) -> None:  # noqa: N802
            calls.append(f"GET {self.path}")
            assert self.headers["Authorization"] == "Bearer t"
            return self._answer(200, {"dag_run_id": "demo__2025-09-01", "state": "queued"})

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = AirflowApi(server.server_address[1], "admin", "pw")
        start, end = demo_airflow.interval("score", dt.date(2025, 9, 1))
        run = api.trigger("score", "demo__2025-09-01", start, end)
    finally:
        server.shutdown()
    assert run["dag_run_id"] == "demo__2025-09-01"
    assert calls == ["POST /auth/token", "POST /api/v2/dags/score/dagRuns", "POST /api/v2/dags/score/dagRuns",
                     "GET /api/v2/dags/score/dagRuns/demo__2025-09-01"]


def test_the_scheduler_preload_imports_every_stage_module():
    """A preload that silently fails leaves every demo task paying its imports (minutes over a demo)."""
    from pipelines.demo import preload
    from pipelines.stages import STAGE_MODULES

    assert set(STAGE_MODULES.values()) <= set(preload.modules())
    assert preload.preload() == preload.modules()
