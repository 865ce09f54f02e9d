"""The demo's skill plot (PNG) and its self-contained HTML summary (the PNG embedded as base64)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from pipelines.demo.report import table_rows
from pipelines.storage import atomic_path

STYLE = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}"
         "code{background:#f4f4f4;padding:1px 4px}")


def write_plot(summary: dict, target: Path) -> Path:
    """Daily skill (1 - MAE / persistence MAE) of the champion of the day vs the first champion."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; set here, not at import (no import-time effects)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    days = summary["days"]
    x = [d["day"] for d in days]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    ax.plot(x, [d.get("skill_champion") for d in days], marker="o", label="champion of the day")
    ax.plot(x, [d.get("skill_first") for d in days], marker="s", linestyle="--",
            label="first champion (no retraining)")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    if summary.get("event_start_day"):
        ax.axvline(summary["event_start_day"], color="red", linestyle=":", label="event starts")
    for i, promo in enumerate(p for p in summary["promotions"] if p.get("day")):
        ax.axvline(promo["day"], color="green", alpha=0.5, label="promotion" if i == 0 else None)
        ax.annotate(f"v{promo['version']}", (promo["day"], 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -12), textcoords="offset points", color="green")
    ax.set_xlim(0.5, max(x, default=1) + 0.5)  # every simulated day on the axis, scored or not
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("simulated day (promotions drawn on the day whose monitor verdict caused them)")
    ax.set_ylabel("skill vs persistence (1 - MAE / MAE persistence)")
    ax.set_title(f"Railcast demo: scenario {summary['scenario']}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(fig)
    return target


def _table(summary: dict) -> str:
    rows = table_rows(summary)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _promotions(summary: dict) -> str:
    esc = lambda value: html.escape(str(value))  # noqa: E731
    items = [f"<li>day {p['day']}: version {esc(p['version'])} ({esc(p['run_type'])} run "
             f"<code>{esc(p['run_id'])}</code>): {esc(p['reason'])}</li>" for p in summary["promotions"]]
    return f"<ul>{''.join(items) or '<li>none</li>'}</ul>"


def write_html(summary: dict, png: Path, target: Path) -> Path:
    """One HTML file with the plot inline: it opens anywhere, offline, without its folder."""
    image = base64.b64encode(Path(png).read_bytes()).decode()
    where = "".join(f"<li>{html.escape(k)}: <code>{html.escape(str(v))}</code></li>"
                    for k, v in sorted(summary.get("locations", {}).items()))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Railcast demo</title>"
            f"<style>{STYLE}</style></head><body><h1>Railcast demo: {html.escape(summary['scenario'])}</h1>"
            f"<p>Event from day {summary.get('event_start_day')}; {len(summary['days'])} simulated days; "
            f"{len(summary['emails'])} emails captured; elapsed {summary.get('elapsed_seconds')} s.</p>"
            f"<img alt='daily skill' src='data:image/png;base64,{image}'>"
            f"<h2>Promotions</h2>{_promotions(summary)}<h2>Per day</h2>{_table(summary)}"
            f"<p>MAE in minutes on the day's matured labels; '-' before maturity or without a champion.</p>"
            f"<h2>Where things are</h2><ul>{where}</ul></body></html>\n")
    with atomic_path(target) as tmp:
        tmp.write_text(page)
    return target
