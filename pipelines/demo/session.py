"""One demo session: SMTP capture and Airflow up, the calendar driven day by day, everything reported.

Both servers stop in `finally` blocks (also on Ctrl-C). summary.json is rewritten after every day, so
an interrupted demo still leaves the days it finished.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import mean

from pipelines.config import Params, scenario
from pipelines.demo.days import INGEST_AHEAD_DAYS, DayLoop
from pipelines.demo.live_segment import live_lines, live_segment
from pipelines.demo.on_airflow import (
    claim_wall_clock,
    demo_env,
    demo_settings,
    interval,
    standalone,
    wait_for_dags,
)
from pipelines.demo.report import (
    build_summary,
    data_versions,
    day_record,
    demo_dir,
    emails_dir,
    format_table,
    promotions,
)
from pipelines.ops.airflow_api import AirflowApi
from pipelines.ops.airflow_settings import environment
from pipelines.ops.mail_capture import MailCapture, free_port
from pipelines.registry import tracking
from pipelines.registry.history import champion_at
from pipelines.runtime import alerts
from pipelines.state.db import database_url, redacted
from pipelines.storage import Layout


def calendar(params: Params) -> list[dt.date]:
    """The simulated service dates, day 1 first."""
    first = params.simulation.start_date
    return [first + dt.timedelta(days=i) for i in range(params.simulation.days)]


def outputs(layout: Layout) -> dict:
    """Where the demo's own outputs are (local files under RAILCAST_HOME in both profiles)."""
    return {"reports": str(demo_dir(layout)), "emails": str(emails_dir(layout)),
            "data_versions": "the data_version tag of each model version (`railcast models`); "
                             "`railcast reproduce VERSION` rebuilds one"}


def locations(layout: Layout, port_note: str) -> dict:
    """Where the embedded demo's outputs live and the commands that open the UIs."""
    return {"data": f"{layout.root} (one directory per dataset, Parquet per hour or service date)",
            "mlflow": f"{tracking.tracking_uri(layout)}, artifacts {layout.mlflow_dir / 'artifacts'}",
            "alias_history": f"table alias_moves in {redacted(database_url(layout))} (`railcast models`)",
            "airflow_home": str(layout.airflow_home),
            "airflow_ui": f"make airflow  -> http://127.0.0.1:8080 (user admin, {port_note})",
            "mlflow_ui": "make mlflow  -> http://127.0.0.1:5000"}


@contextmanager
def embedded(layout: Layout, params_file: Path, smtp: dict, port: int,
             say) -> Iterator[tuple[AirflowApi, Layout, dict]]:
    """`airflow standalone` (SQLite, LocalExecutor) with the demo's settings."""
    with standalone(layout, demo_env(layout, port, params_file, smtp), port, say) as api:
        yield api, layout, locations(layout, f"password in {layout.airflow_home / 'passwords.json'}")


def airflow(stack: str, params: Params, layout: Layout, params_file: Path, smtp: dict, port: int, say):
    """The demo's Airflow in profile `stack` (embedded or production): a context manager that yields an
    API client, the layout the driver reads data through and where things are."""
    if stack == "production":
        from pipelines.demo.on_stack import production

        return production(params, layout, demo_settings(layout, params_file, smtp), port, say)
    return embedded(layout, params_file, smtp, port, say)


def summarize(params: Params, layout: Layout, results: list[dict], as_of: dt.datetime, extra: dict) -> dict:
    """The summary of the days done so far, as known at `as_of`."""
    days = [day_record(params, layout, r["day"], dt.date.fromisoformat(r["date"]), as_of, r["retrains"])
            for r in results]
    runs = {x["run_id"]: x for r in results for x in r["retrains"]}
    promoted = promotions(layout, days, runs)
    sc = scenario(params)
    extra = {**extra, "as_of": as_of.isoformat(),
             "data_versions": data_versions(layout, [p["version"] for p in promoted])}
    return build_summary(params, layout, params.simulation.scenario, sc.start_day, days, promoted, extra)


def budget(startup_s: float, results: list[dict], retrain_s: list[float]) -> dict:
    """Where the wall time went: start-up, per simulated day (without its retrain), per retrain."""
    day_s = [r["seconds"] - sum(r.get("retrain_s", [])) for r in results]
    live = [s for s, r in zip(day_s, results, strict=True) if r.get("champion")]

    def avg(values: list[float]) -> float | None:
        return round(mean(values), 1) if values else None

    return {"startup_s": round(startup_s, 1), "days": len(results), "per_day_mean_s": avg(day_s),
            "per_day_with_champion_mean_s": avg(live), "per_day_max_s": max(day_s, default=None),
            "retrains": len(retrain_s), "per_retrain_mean_s": avg(retrain_s)}


def day_line(result: dict, record: dict, champion: str | None) -> str:
    """The progress line of one finished day (the full reason is in summary.json)."""
    retrains = ", ".join(f"{r['run_type']} retrain {r['state']}" for r in result["retrains"]) or "no retrain"
    reason = str(record.get("reason") or "no monitor record")
    reason = reason if len(reason) <= 70 else reason[:67] + "..."
    return (f"day {result['day']:2d} {result['date']}: score, monitor -> {record.get('drift_verdict')} "
            f"({reason}); {retrains}; champion {champion or 'none'} [{result['seconds']:.0f} s]")


def flush_outbox(params: Params, layout: Layout, smtp: dict) -> dict:
    """Deliver alerts still pending (e.g. queued by the last task) to the capture server."""
    import json

    with environment({"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp)}):
        return alerts.flush_outbox(params, layout)


def run_session(params: Params, layout: Layout, params_file: Path, port: int | None, timeout_s: float,
                say, t0: float, stack: str = "embedded", live_hours: float = 0.0) -> dict:
    """Capture SMTP, start Airflow, drive the calendar, write the reports; both servers always stop."""
    from pipelines.demo.page import write_html, write_plot
    from pipelines.demo.report import write_summary

    dates, port = calendar(params), port or free_port()
    results: list[dict] = []
    info: dict = {"stack": stack}
    with MailCapture(emails_dir(layout)) as capture:
        smtp = capture.connection(params.alerts.sender)
        say(f"SMTP capture on 127.0.0.1:{capture.port} -> {capture.directory}")
        with airflow(stack, params, layout, params_file, smtp, port, say) as (api, layout, where):
            info["locations"] = {**outputs(layout), **where}
            wait_for_dags(api)
            claim_wall_clock(api, say)
            loop = DayLoop(api, params, layout, say, timeout_s)
            startup = time.monotonic() - t0
            loop.queue_ingest([*dates, dates[-1] + dt.timedelta(days=1)], params.simulation.scenario)
            say(f"ingest planned for {len(dates) + 1} days, run {INGEST_AHEAD_DAYS} days ahead of scoring "
                f"(the last one lets day {len(dates)}'s labels mature)")
            for n, day in enumerate(dates, 1):
                before = len(loop.retrain_seconds)
                result = loop.run_day(n, day)
                result["retrain_s"] = loop.retrain_seconds[before:]
                result["champion"] = champion_at(layout)
                results.append(result)
                info["budget"] = {**budget(startup, results, loop.retrain_seconds),
                                  "load_avg_1_5_15": [round(x, 1) for x in os.getloadavg()]}
                info["elapsed_seconds"] = round(time.monotonic() - t0, 1)
                summary = summarize(params, layout, results, interval("monitor", day)[1], info)
                write_summary(summary, layout)
                say(day_line(result, summary["days"][-1], champion_at(layout)))
            if live_hours > 0:
                info["live"] = live_segment(params_file, layout, dates[-1] + dt.timedelta(days=1),
                                            live_hours, stack, say)
                say(live_lines(info["live"]))
            flush_outbox(params, layout, smtp)  # while the stores are up (production: they stop next)
            summary = summarize(params, layout, results, interval("monitor", dates[-1])[1], info)
    summary["elapsed_seconds"] = round(time.monotonic() - t0, 1)  # shutdown included
    folder = demo_dir(layout)
    write_plot(summary, folder / "skill.png")
    write_html(summary, folder / "skill.png", folder / "summary.html")
    write_summary(summary, layout)
    print("\n" + format_table(summary) + "\n", flush=True)
    if "live" in summary:
        print(live_lines(summary["live"]) + "\n", flush=True)
    for key, value in summary["locations"].items():
        print(f"  {key:14s} {value}", flush=True)
    return summary
