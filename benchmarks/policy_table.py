"""The policy benchmark's figures to reach, from its per-(scenario, seed) results.

Day numbers are 1-based calendar days of the simulation. The replay's tick t runs on the morning of day t
(its monitor checks day t - 1), so a model promoted at tick t first serves day t, and "days to
promotion" is t - the event's first day.

    python -m benchmarks.policy_table results.json   # the summary and its markdown table
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from pipelines.config import load_params, scenario

AFTER = 7                          # days compared after a promotion or after a shock ends
TRANSIENT = ("strike", "storm")
PERSISTENT = ("construction", "timetable_change")


def _day(first: dt.date, number: int) -> str:
    return (first + dt.timedelta(days=number - 1)).isoformat()


def _pooled(daily: dict[str, list], days: list[str]) -> tuple[float | None, float | None]:
    """(MAE, skill = 1 - MAE / persistence MAE) over `days`, weighted by labeled rows."""
    rows = [daily[d] for d in days if d in daily]
    if not rows:
        return None, None
    n = sum(r[2] for r in rows)
    mae = sum(r[0] * r[2] for r in rows) / n
    persistence = sum(r[1] * r[2] for r in rows) / n
    return round(mae, 4), round(1 - mae / persistence, 4)


def _gain(new: float | None, old: float | None) -> float | None:
    return None if new is None or not old else round(1 - new / old, 4)


def mean(values: list) -> float | None:
    """Mean of the values that are not None, 4 decimals; None when none is."""
    kept = [v for v in values if v is not None]
    return round(float(np.mean(kept)), 4) if kept else None


def _kind(reason: str) -> str:
    return next((k for k in ("bootstrap", "warm-up", "follow-up") if reason.startswith(k)), "drift")


def _signalled(verdict: str) -> bool:
    """Whether a verdict says the window drifted (a bootstrap or warm-up retrain does not, unless it names
    a cancellation surge: the one check that runs before the first champion)."""
    if "cancellation surge since" in verdict:
        return True
    if verdict.startswith("retrain: "):
        return _kind(verdict.removeprefix("retrain: ")) in ("drift", "follow-up")
    return verdict.startswith(("drift", "deferred"))


def retrain_kinds(verdicts: dict[str, str]) -> dict[str, int]:
    """The drift policy's retrain verdicts by kind (bootstrap, warm_up, follow_up, drift), from their
    reasons ("retrain: warm-up: ...")."""
    out: dict[str, int] = {}
    for verdict in verdicts.values():
        if verdict.startswith("retrain: "):
            kind = _kind(verdict.removeprefix("retrain: ")).replace("-", "_")
            out[kind] = out.get(kind, 0) + 1
    return out


def merged(results: list[dict]) -> list[dict]:
    """One result per (scenario, seed), sorted: a later result's policies replace an earlier one's (a
    policy re-run after a change), the others are kept with the code version each row records."""
    cells: dict[tuple[str, int], dict] = {}
    for result in results:
        key = (result["scenario"], result["seed"])
        if key in cells:
            result = {**cells[key], **result, "policies": {**cells[key]["policies"], **result["policies"]}}
        cells[key] = result
    return [cells[k] for k in sorted(cells)]


def code_version() -> str:
    """The checkout's short commit, '+' when it has uncommitted changes ('' outside git)."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    return head + ("+" if head and git("status", "--porcelain", "--untracked-files=no") else "")


def persistent(run: dict, first: dt.date, start: int) -> dict:
    """After a persistent shift: days to the first promotion, its 7 days against the stale champion
    (overall and on the event's rows) and the skill after it against the skill before the event."""
    drift, never = run["policies"]["drift"], run["policies"].get("never")
    ticks = [t for t in drift["promotion_days"] if t > start]
    out = {"days_to_promotion": (ticks[0] - start) if ticks else None}
    served = ticks[0] if ticks else start + 3
    after = [_day(first, served + k) for k in range(AFTER)]
    before = [d for d in drift["daily"] if d < _day(first, start)]
    for key, suffix in (("daily", ""), ("daily_scope", "_scope")):
        if not drift.get(key):
            continue
        mae, skill_after = _pooled(drift[key], after)
        skill_before = _pooled(drift[key], before)[1]
        out[f"skill_ratio_after{suffix}"] = round(skill_after / skill_before, 4) \
            if skill_after is not None and skill_before else None
        if never:
            out[f"gain_vs_stale_7d{suffix}"] = _gain(mae, _pooled(never[key], after)[0])
    return out


def transient(run: dict, first: dt.date, start: int, end: int) -> dict:
    """A shock of a few days: did the monitor signal drift during it, and did a model promoted during or
    after it do worse than the stale one in the 7 days after it ended?"""
    drift, never = run["policies"]["drift"], run["policies"].get("never")
    during = [_day(first, k) for k in range(start, end + 1)]
    signals = [d for d, v in drift.get("verdicts", {}).items() if d in during and _signalled(v)]
    out = {"drift_signal_during_event": bool(signals)}
    promoted = [t for t in drift["promotion_days"] if t > start]
    if promoted and never:
        after = [_day(first, end + 1 + k) for k in range(AFTER)]
        out["gain_vs_stale_after_event"] = _gain(_pooled(drift["daily"], after)[0],
                                                 _pooled(never["daily"], after)[0])
    out["promotions_from_event"] = len(promoted)
    return out


def summarize(results: list[dict]) -> dict:
    """Per scenario: each policy's means over seeds and the figures to reach (per seed where it matters)."""
    params = load_params()
    first = params.simulation.start_date
    out = {}
    for name in sorted({r["scenario"] for r in results}):
        runs = [r for r in results if r["scenario"] == name]
        event = scenario(params, name)
        table = {}
        for policy in sorted({p for r in runs for p in r["policies"]}):
            rows = [r["policies"][policy] for r in runs if policy in r["policies"]]
            table[policy] = {k: mean([row.get(k) for row in rows]) for k in (
                "mean_daily_mae", "mae_7d_after_event", "retrains", "promotions", "retrain_cpu_s", "emails",
                "gain_over_board", "estimate_corr")}
        figures = {"seeds": [r["seed"] for r in runs], "policies": table}
        if "daily" in table and "drift" in table:   # the claim: near daily's MAE with far fewer retrains
            drift, daily = table["drift"], table["daily"]
            figures["drift_mae_above_daily"] = round(drift["mean_daily_mae"] / daily["mean_daily_mae"] - 1, 4)
            figures["drift_share_of_daily_retrains"] = round(drift["retrains"] / daily["retrains"], 3) \
                if daily["retrains"] else None
        drift_runs = [r for r in runs if "drift" in r["policies"]]
        if name in PERSISTENT:
            figures["per_seed"] = {r["seed"]: persistent(r, first, event.start_day) for r in drift_runs}
        elif name in TRANSIENT:
            figures["per_seed"] = {r["seed"]: transient(r, first, event.start_day, event.end_day)
                                   for r in drift_runs}
        kinds = {r["seed"]: retrain_kinds(r["policies"]["drift"].get("verdicts", {})) for r in drift_runs}
        figures["retrain_kinds_per_seed"] = kinds
        if name == "stationary":   # the figure to reach counts drift retrains, not the bootstrap's warm-up
            figures["drift_retrains_per_seed"] = {seed: k.get("drift", 0) + k.get("follow_up", 0)
                                                  for seed, k in kinds.items()}
        out[name] = figures
    return out


def markdown(summary: dict) -> str:
    """The README's table: one row per scenario and policy."""
    lines = ["| scenario | policy | mean daily MAE | MAE 7 d from event | retrains | promotions | "
             "retrain CPU s | emails |", "|---|---|---|---|---|---|---|---|"]
    for name, figures in summary.items():
        for policy in ("drift", "never", "daily", "weekly"):
            row = figures["policies"].get(policy)
            if row:
                cells = [row[k] for k in ("mean_daily_mae", "mae_7d_after_event", "retrains", "promotions",
                                          "retrain_cpu_s", "emails")]
                shown = ("-" if c is None else f"{c:g}" for c in cells)
                lines.append(f"| {name} | {policy} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def read_results(path: Path) -> list[dict]:
    """The (scenario, seed) results in a bench result file (`make bench` output or the benchmark's own
    JSON) or in a log of its `RESULT {...}` lines."""
    text = path.read_text()
    if not text.lstrip().startswith("{"):
        return [json.loads(line[7:]) for line in text.splitlines() if line.startswith("RESULT ")]
    found, todo = [], [json.loads(text)]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if isinstance(node.get("results"), list) and all("scenario" in r for r in node["results"]):
                found += node["results"]
            else:
                todo += list(node.values())
    return found


def main(argv: list[str] | None = None) -> None:
    """Summarize result files or logs (e.g. of matrix parts run side by side); --write one result file."""
    import argparse

    from benchmarks.__main__ import machine

    parser = argparse.ArgumentParser(prog="python -m benchmarks.policy_table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path,
                        help="bench results (JSON) or logs with RESULT lines; a later one's policy row "
                             "replaces an earlier one's")
    parser.add_argument("--write", type=Path, help="write results, summary and table to this JSON file")
    parser.add_argument("--note", default="", help="with --write: how the cells were run")
    args = parser.parse_args(argv)
    found = merged([r for path in args.inputs for r in read_results(path)])
    summary = summarize(found)
    print(markdown(summary))
    if args.write:
        codes = sorted({row.get("code", "?") for r in found for row in r["policies"].values()})
        args.write.write_text(json.dumps({"benchmark": "bench_policies", "machine": machine(), "code": codes,
                                          "note": args.note,
                                          "summary": summary, "table": markdown(summary).splitlines(),
                                          "results": found}, indent=1, sort_keys=True) + "\n")
        print(f"written to {args.write}")


if __name__ == "__main__":
    main()
