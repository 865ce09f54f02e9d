"""A self-contained HTML page for one validated batch: inline CSS, no scripts, no network."""

from __future__ import annotations

import html
import json
from typing import Any

from pipelines.validation.gx_adapter import Outcome, ValidationResult

SAMPLE_ROWS = 20   # failing rows shown per rule: enough to see the pattern, small enough to open

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#222}
.banner{padding:1em 1.5em;border-radius:6px;font-size:1.4em;font-weight:600;color:#fff}
.passed{background:#2e7d32}.failed{background:#c62828}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr.fail td{background:#fdecea}tr.warn td{background:#fff8e1}
code{font-family:ui-monospace,monospace;font-size:.95em}
"""


def _esc(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return html.escape(text if len(text) <= 300 else text[:297] + "...")


def _table(header: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{_esc(v)}</td>" for v in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _row_class(outcome: Outcome) -> str:
    if not outcome.success:
        return "fail"
    return "warn" if outcome.unexpected_count else ""   # passed under `mostly` but rows quarantined


def _expectations(result: ValidationResult) -> str:
    header = ["rule", "expectation", "column", "result", "failing rows", "failing share", "observed"]
    rows, classes = [], []
    for o in result.outcomes:
        verdict = "error: " + o.error if o.error else ("pass" if o.success else "FAIL")
        share = f"{o.unexpected_share:.4%}" if o.row_level else ""
        count = o.unexpected_count if o.row_level else ""
        rows.append([o.name, o.expectation, o.column or "(table)", verdict, count, share, o.observed])
        classes.append(_row_class(o))
    return _table(header, rows, classes)


def _samples(samples: dict[str, list[dict[str, Any]]]) -> str:
    parts = []
    for rule in sorted(samples):
        rows = samples[rule][:SAMPLE_ROWS]
        if not rows:
            continue
        header = sorted(rows[0])
        parts.append(f"<h3><code>{html.escape(rule)}</code></h3>")
        parts.append(_table(header, [[r[h] for h in header] for r in rows]))
    return "".join(parts) or "<p>No failing rows.</p>"


def render(title: str, summary: dict[str, Any], result: ValidationResult,
           samples: dict[str, list[dict[str, Any]]]) -> str:
    """The HTML page: verdict banner, counts, one row per expectation, a sample of failing rows."""
    verdict = summary["verdict"]
    counts = [[k, summary[k]] for k in sorted(summary) if k not in ("verdict", "report")]
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<div class=\"banner {verdict}\">Verdict: {html.escape(verdict.upper())}</div>"
        f"<h2>Counts</h2>{_table(['item', 'value'], counts)}"
        f"<h2>Expectations ({len(result.outcomes)})</h2>{_expectations(result)}"
        f"<h2>Sample of failing rows (at most {SAMPLE_ROWS} per rule)</h2>{_samples(samples)}"
        "</body></html>\n"
    )
