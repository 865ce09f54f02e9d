"""The monitor's emails as plain data ({subject, body, attachments, incident_key}) built from its evidence,
and which checked day sends one (`alert_for`).

The monitor words its alert once (`alert_from_evidence`, returned as the run's "alert"); the runtime's
outbox only wraps that message (`runtime.alerts.monitor_alert`) and keys it by the incident, so one
incident is one email however often its verdict repeats.
"""

from __future__ import annotations

from pipelines.monitoring import rules

TOP = 8  # features and segments listed in an email


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _feature_lines(evidence: dict) -> list[str]:
    columns = evidence.get("features", {})
    hits = sorted((c for c, r in columns.items() if r.get("drifted")),
                  key=lambda c: (-(columns[c].get("score") or 0.0), c))
    lines = [f"  {c}: {columns[c]['method']} score {_fmt(columns[c].get('score'))} "
             f"(threshold {_fmt(columns[c].get('threshold'))}, {columns[c].get('status')})"
             for c in hits[:TOP]] or ["  none"]
    share = evidence.get("drift_share", {})
    lines.append(f"  share of drifted features {_fmt(share.get('share'))} "
                 f"(threshold {_fmt(share.get('threshold'))}) over {share.get('n_columns')} columns")
    return lines


def _segment_lines(evidence: dict) -> list[str]:
    return [f"  {r['segment']}={r['value']} {r['column']}: {r['method']} score {_fmt(r['score'])} "
            f"(threshold {_fmt(r['threshold'])}; rows {r['rows_reference']} reference, "
            f"{r['rows_current']} now)"
            for r in evidence.get("segments", [])[:TOP]] or ["  none"]


def _other_lines(evidence: dict) -> list[str]:
    pred = evidence.get("prediction") or {}
    lines = [f"  champion prediction: {pred.get('method')} score {_fmt(pred.get('score'))} "
             f"(threshold {_fmt(pred.get('threshold'))}, drifted {pred.get('drifted')})" if pred
             else "  champion prediction: no predictions for this window"]
    lines += [f"  null rate of {c}: {_fmt(r['reference'])} -> {_fmt(r['current'])} "
              f"(threshold {_fmt(r['threshold'])})"
              for c, r in sorted(evidence.get("null_rates", {}).items())]
    lines += [f"  values of {c} the reference never had: {_fmt(u['share'])} of rows, e.g. "
              f"{', '.join(u['examples'])} (threshold {_fmt(u.get('threshold'))})"
              for c, u in sorted(evidence.get("unseen_categories", {}).items()) if u.get("drifted")]
    return lines + _surge_lines(evidence)


def _surge_lines(evidence: dict) -> list[str]:
    """The cancellation check's line when it drifted (else none)."""
    surge = evidence.get("cancellations") or {}
    if not surge.get("drifted"):
        return []
    now, base = surge["current"], surge["baseline"]
    return [f"  cancelled departures: {_fmt(now['share'])} of {now['departures']} (the "
            f"{len(base['days'])} days before: {_fmt(base['share'])} of {base['departures']}; "
            f"threshold a rise of {_fmt(surge['threshold'])})"]


def _skill_line(evidence: dict) -> str:
    check = evidence.get("skill") or {}
    cur, hold = check.get("current") or {}, check.get("holdout") or {}
    if not check.get("judged"):
        return (f"  not judged: {cur.get('n', 0)} matured labels in the window "
                f"(holdout skill {_fmt(hold.get('skill'))})")
    return (f"  window skill {_fmt(cur.get('skill'))} on {cur.get('n')} labels "
            f"(MAE {_fmt(cur.get('mae'))} vs "
            f"persistence {_fmt(cur.get('mae_persistence'))}); holdout skill {_fmt(hold.get('skill'))}; "
            f"retrain below {_fmt(check.get('threshold'))}")


def _next_step(evidence: dict) -> str:
    verdict, start = evidence.get("verdict"), evidence.get("event_start")
    if verdict == "drift":
        return (f"No retrain yet ({evidence.get('reason')}). The monitor checks every day: if the drift "
                f"persists, a retrain is requested with its holdout on or after {start}, and the gate's "
                f"decision is emailed. This incident sends no further drift email.")
    if verdict == "deferred":
        return (f"A retrain is requested once {evidence.get('min_post_event_days')} days since {start} have "
                f"matured labels ({len(evidence.get('post_event_days', []))} so far), so its holdout lies "
                f"on or after {start}. No action needed unless the drift is a data fault.")
    return (f"A retrain was requested as of the close of {evidence.get('day')}; its holdout lies on or after "
            f"{start}. The gate then decides on promotion and emails the decision.")


def drift_message(evidence: dict) -> dict:
    """The one email of a drift incident: what drifted, skill, what happens next, the report attached."""
    body = [f"Drift incident since {evidence.get('event_start')} "
            f"(checked service date {evidence.get('day')}, "
            f"window {evidence['window']['start']}..{evidence['window']['end']}, champion "
            f"{evidence.get('champion')}).", f"Verdict: {evidence.get('verdict')}: {evidence.get('reason')}",
            "", "Drifted features:", *_feature_lines(evidence),
            "", "Drifted segments:", *_segment_lines(evidence),
            "", "Other signals:", *_other_lines(evidence), "", "Skill (1 - MAE model / MAE persistence):",
            _skill_line(evidence), "", "What happens next:", "  " + _next_step(evidence), "",
            f"Report: {evidence.get('report')} (attached)", f"Decision record: {evidence.get('record')}"]
    return {"subject": f"drift since {evidence.get('event_start')}: {evidence.get('verdict')}",
            "body": "\n".join(body) + "\n", "attachments": [p for p in [evidence.get("report")] if p],
            "incident_key": evidence.get("incident_key")}


def empty_window_message(evidence: dict) -> dict:
    """The alert of a window without any feature rows: upstream stages produced nothing to check."""
    window = evidence["window"]
    body = (f"The monitor found no feature rows for service dates {window['start']}..{window['end']}.\n"
            f"Nothing was checked, so this is not a 'no drift' result.\n\n"
            f"Check that ingest, detect_departures "
            f"and build_features ran for these days (features dir: {evidence.get('features_dir')}).\n"
            f"Decision record: {evidence.get('record')}\n")
    return {"subject": f"monitor: empty window ending {window['end']}", "body": body, "attachments": [],
            "incident_key": evidence.get("incident_key")}


def bootstrap_message(evidence: dict) -> dict:
    """The alert of the first training request (no champion yet)."""
    body = (f"No champion model exists; enough data has matured as of the close of {evidence.get('day')} "
            f"({evidence.get('reason')}).\nA bootstrap training run was requested; the gate decides on "
            f"promotion.\nDecision record: {evidence.get('record')}\n")
    return {"subject": f"bootstrap training requested on {evidence.get('day')}", "body": body,
            "attachments": [], "incident_key": evidence.get("incident_key")}


def surge_message(evidence: dict) -> dict:
    """The alert of a cancellation surge before any champion exists: nothing to judge or retrain yet."""
    bootstrap = "A bootstrap training run was requested" if evidence.get("verdict") == "retrain" else \
        "No bootstrap training yet"
    body = [f"Cancellation surge since {evidence.get('incident_start')} (checked service date "
            f"{evidence.get('day')}); no champion model exists yet.", "", "Other signals:",
            *_surge_lines(evidence), "",
            f"{bootstrap} ({evidence.get('reason')}); its holdout may hold the disrupted days, and the gate "
            f"decides on promotion. This incident sends no further drift email.",
            f"Decision record: {evidence.get('record')}"]
    return {"subject": f"drift since {evidence.get('incident_start')}: cancellation surge, no champion yet",
            "body": "\n".join(body) + "\n", "attachments": [], "incident_key": evidence.get("incident_key")}


def alert_from_evidence(evidence: dict) -> dict:
    """The message matching a verdict's evidence (drift, empty window, bootstrap, a surge before it)."""
    kind = evidence.get("kind")
    if kind == "empty_window":
        return empty_window_message(evidence)
    if kind == "bootstrap":
        return surge_message(evidence) if evidence.get("drifted") else bootstrap_message(evidence)
    return drift_message(evidence)


def alert_for(evidence: dict, history: list[dict]) -> dict | None:
    """The monitor's email for a checked day (None: none), once per incident: the first drift verdict of an
    incident (the day the drift is seen, before persistence allows a retrain), or the bootstrap /
    empty-window alert. `history` is the monitor's records of earlier days (which were alerted)."""
    verdict, key = evidence["verdict"], evidence.get("incident_key")
    told = any(r.get("alerted") and r.get("incident_key") == key for r in history)
    if evidence["kind"] == "bootstrap" and evidence["drifted"]:   # a surge before the first champion
        if not told:
            return alert_from_evidence(evidence)
        if verdict != rules.RETRAIN:
            return None
        return bootstrap_message({**evidence, "incident_key": f"bootstrap|{evidence['day']}"})
    if verdict in (rules.EMPTY_WINDOW, rules.RETRAIN) and evidence["kind"] not in (
            "drift", rules.WARM_UP):   # a warm-up is told by its promotion decision
        return alert_from_evidence(evidence)
    if verdict in (rules.DRIFT, rules.DEFERRED, rules.RETRAIN) and key and not told:
        return alert_from_evidence(evidence)
    return None
