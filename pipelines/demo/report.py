"""The demo's summary: summary.json, the per-day table, the skill plot (PNG) and a self-contained HTML page.

Per simulated day: the monitor's verdict, whether a drift or performance retrain started (the bootstrap
does not count), the champion that scored the day, and the day's MAE of that champion, of the first
champion (in shadow), of persistence and of the destination board's forecast, on the labels matured
at the summary's `as_of` (null before).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.monitoring import skill
from pipelines.registry import tracking
from pipelines.registry.history import champion_at, champion_moves
from pipelines.storage import Layout, write_json

MAE_KEYS = ("mae_champion", "mae_persistence", "mae_without_retraining", "mae_board_forecast")
BOOTSTRAP = "bootstrap"


def demo_dir(layout: Layout) -> Path:
    """RAILCAST_HOME/reports/demo: everything the demo writes about itself (local files also when the
    datasets are in an object store)."""
    return layout.root / "reports" / "demo"


def emails_dir(layout: Layout) -> Path:
    """Where the capture SMTP server writes .eml files."""
    return demo_dir(layout) / "emails"


def monitor_record(layout: Layout, day: dt.date) -> dict:
    """The monitor's verdict of `day` (the state database's monitor history), {} when it judged none."""
    from pipelines.monitoring import history

    return history.day_record(layout, day)


def is_bootstrap(record: dict) -> bool:
    """A retrain verdict whose reason is the bootstrap (no champion yet)."""
    return str(record.get("reason", "")).startswith(BOOTSTRAP)


def day_record(params: Params, layout: Layout, n: int, day: dt.date, as_of: dt.datetime,
               retrains: list[dict]) -> dict:
    """One row of summary.json `days`."""
    record = monitor_record(layout, day)
    scores = skill.daily_scores(params, layout, day, as_of)
    champion = champion_at(layout, close_time(params, day))
    return {"day": n, "date": day.isoformat(), "drift_verdict": record.get("verdict"),
            "reason": record.get("reason"),
            "retrain_triggered": bool(retrains) and not is_bootstrap(record),
            "retrain_runs": [r["run_id"] for r in retrains],
            "champion_version": champion,
            **{k: scores.get(k) for k in MAE_KEYS},
            "skill_champion": scores.get("skill_champion"), "skill_first": scores.get("skill_first")}


def promotions(layout: Layout, days: list[dict], runs: dict[str, dict]) -> list[dict]:
    """Champion moves from the alias history, tied to the demo day and Airflow run that made them."""
    day_of_run = {run: d for d in days for run in d["retrain_runs"]}
    out = []
    for entry in champion_moves(layout):
        if entry["to"] is None:
            continue
        run_id = str(entry.get("who", "")).split("/", 1)[-1]
        day = day_of_run.get(run_id, {})
        out.append({"day": day.get("day"), "version": str(entry["to"]),
                    "run_type": runs.get(run_id, {}).get("run_type"), "run_id": run_id,
                    "reason": day.get("reason") or entry.get("why"), "when": entry.get("when")})
    return out


def data_versions(layout: Layout, versions: list[str]) -> dict[str, Any]:
    """The data_version tag (hash of the input partitions) of each promoted model version."""
    out = {}
    for version in versions:
        try:
            out[version] = tracking.version_info(layout, version)["tags"].get("data_version")
        except Exception:  # a missing version must not lose the rest of the summary
            out[version] = None
    return out


def build_summary(params: Params, layout: Layout, scenario: str, event_start_day: int | None,
                  days: list[dict], promoted: list[dict], extra: dict) -> dict:
    """The summary.json object."""
    emails = sorted(p.relative_to(layout.root).as_posix() for p in emails_dir(layout).glob("*.eml"))
    folder = demo_dir(layout)
    reports = {"summary": folder / "summary.json", "plot": folder / "skill.png",
               "html": folder / "summary.html", "drift": layout.dataset("reports") / "drift",
               "validation": layout.dataset("reports") / "validation"}
    return {"scenario": scenario, "event_start_day": event_start_day, "days": days,
            "promotions": promoted, "emails": emails,
            "reports": {k: str(v) for k, v in reports.items()}, **extra}


def write_summary(summary: dict, layout: Layout) -> Path:
    """summary.json, atomically."""
    return write_json(summary, demo_dir(layout) / "summary.json")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def table_rows(summary: dict) -> list[list[str]]:
    """The per-day table as text cells, header first."""
    head = ["day", "date", "verdict", "retrain", "champion", "MAE champ", "MAE first", "MAE persist",
            "MAE board"]
    rows = [head]
    for d in summary["days"]:
        rows.append([str(d["day"]), d["date"], _cell(d["drift_verdict"]),
                     "yes" if d["retrain_triggered"] else ("bootstrap" if d["retrain_runs"] else ""),
                     _cell(d["champion_version"]), _cell(d["mae_champion"]),
                     _cell(d["mae_without_retraining"]), _cell(d["mae_persistence"]),
                     _cell(d["mae_board_forecast"])])
    return rows


def format_table(summary: dict) -> str:
    """The per-day table for the terminal."""
    rows = table_rows(summary)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
