"""Pure decision rules of the monitor: persistence, incident start, cooldown, deferral, retries, follow-up,
bootstrap.

`history` is the monitor's own earlier records (monitoring/<day>.json), each a dict with at least
`day` (ISO date), `drifted` (bool), `verdict` and `event_start` (ISO date or None). Only records of days
before the checked day count, so re-checking a day gives the same verdict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.config import Monitor

NO_CHAMPION, NO_DRIFT, DRIFT, RETRAIN, DEFERRED, EMPTY_WINDOW = (
    "no_champion", "no_drift", "drift", "retrain", "deferred", "empty_window")
WARM_UP = "warm_up"   # the kind of a retrain that completes a bootstrap model's training window
VERDICTS = (NO_CHAMPION, NO_DRIFT, DRIFT, RETRAIN, DEFERRED, EMPTY_WINDOW)


@dataclass(frozen=True)
class Decision:
    """A verdict, the one-line reason behind it, and the first day of the drift incident (if any)."""

    verdict: str
    reason: str
    event_start: dt.date | None = None
    kind: str | None = None   # WARM_UP for a warm-up retrain; else the window's kind (drift)


def _by_day(history: list[dict], day: dt.date) -> dict[dt.date, dict]:
    return {d: r for r in history if (d := dt.date.fromisoformat(r["day"])) < day}


def persistence(history: list[dict], day: dt.date, drifted: bool, n: int) -> int:
    """How many of the last n windows (the checked day included, missing days not drifted) drifted."""
    records = _by_day(history, day)
    earlier = [records.get(day - dt.timedelta(days=i), {}).get("drifted", False) for i in range(1, n)]
    return int(drifted) + sum(bool(x) for x in earlier)


def event_start(history: list[dict], day: dt.date, quiet_windows: int = 1) -> dt.date:
    """First day of the incident that `day` belongs to (the checked day assumed drifted): drifted windows
    with fewer than `quiet_windows` quiet (or missing) ones in a row between them are one incident, so
    a flapping drift keeps its start, its incident key (one email) and its post-event days."""
    records = _by_day(history, day)
    start, quiet, earlier = day, 0, day - dt.timedelta(days=1)
    while quiet < quiet_windows and earlier >= min(records, default=day):
        quiet = 0 if records.get(earlier, {}).get("drifted", False) else quiet + 1
        start = earlier if quiet == 0 else start
        earlier -= dt.timedelta(days=1)
    return start


def _retrains(history: list[dict], day: dt.date) -> list[dict]:
    """The retrain verdicts (bootstrap, warm-up or drift) of the days before `day`, oldest first."""
    return [r for _, r in sorted(_by_day(history, day).items()) if r.get("verdict") == RETRAIN]


def last_retrain(history: list[dict], day: dt.date) -> dt.date | None:
    """The latest day before `day` with a retrain verdict (bootstrap or drift)."""
    retrains = _retrains(history, day)
    return dt.date.fromisoformat(retrains[-1]["day"]) if retrains else None


def incident_attempts(history: list[dict], day: dt.date, start: dt.date) -> list[dict]:
    """The retrain verdicts already given for the incident that began on `start`, oldest first."""
    records = _by_day(history, day)
    return [records[d] for d in sorted(records)
            if records[d].get("verdict") == RETRAIN and records[d].get("event_start") == start.isoformat()]


def _retry(attempts: list[dict], day: dt.date, champion: str | None, monitor: Monitor) -> str | None:
    """Why the incident may not retrain again (None: it may). An attempt whose champion is still the
    champion was refused by the gate (or failed): it is tried again, with more post-event labels, after
    retry_after_days, at most max_retrain_attempts times; an answered incident is done."""
    last = attempts[-1]
    if champion is None or last.get("champion") != champion:
        return f"incident already answered by its retrain of {last['day']}"
    if len(attempts) >= monitor.max_retrain_attempts:
        return f"gave up: the gate refused all {len(attempts)} retrain attempts of this incident"
    wait = dt.date.fromisoformat(last["day"]) + dt.timedelta(days=monitor.retry_after_days)
    if day < wait:
        return f"retrain of {last['day']} refused; attempt {len(attempts) + 1} on {wait} or later"
    return None


def answered_incident(history: list[dict], day: dt.date,
                      champion: str | None) -> tuple[dt.date, dt.date] | None:
    """(incident start, retrain day) of the latest drift retrain verdict when it was promoted (the
    champion it was checked against is no longer the champion); None otherwise."""
    retrains = [r for r in _retrains(history, day) if r.get("event_start")]
    if champion is None or not retrains or retrains[-1].get("champion") == champion:
        return None
    return dt.date.fromisoformat(retrains[-1]["event_start"]), dt.date.fromisoformat(retrains[-1]["day"])


def warm_up_due(history: list[dict], day: dt.date, champion: str | None,
                monitor: Monitor) -> tuple[dt.date, int] | None:
    """(bootstrap day, warm-up attempts so far) while the promoted bootstrap model still serves and a
    warm-up may be asked for today: the first, or a retry of one the gate refused (a 2-day holdout can
    prefer a partial-window model by chance), retry_after_days apart, at most max_retrain_attempts in
    all. None once a warm-up was promoted or a drift retrain was asked for."""
    retrains = _retrains(history, day)
    boots = [i for i, r in enumerate(retrains) if not r.get("event_start") and not r.get("champion")]
    if champion is None or not boots:
        return None
    attempts = retrains[boots[-1] + 1:]
    if any(r.get("event_start") or r.get("champion") != champion for r in attempts):
        return None
    if attempts and _retry(attempts, day, champion, monitor):
        return None
    return dt.date.fromisoformat(retrains[boots[-1]]["day"]), len(attempts)


def _warm_up(warm_up: tuple[dt.date, int, int, int] | None, monitor: Monitor) -> Decision | None:
    """The retrain of a bootstrap champion trained on a partial window (`warm_up`: bootstrap day, its
    training days, the days available now, earlier refused attempts), once the full window is available."""
    if warm_up is None:
        return None
    boot, then, now, tried = warm_up
    again = f"; attempt {tried + 1} of {monitor.max_retrain_attempts}, the earlier refused" if tried else ""
    return Decision(RETRAIN, f"warm-up: the bootstrap model of {boot} was trained on {then} day(s); "
                             f"the full window of {now} days is available now{again}", None, WARM_UP)


def _follow_up(follow_up: tuple[dt.date, int] | None, post_event_days: int,
               monitor: Monitor) -> Decision | None:
    """The follow-up retrain of an incident answered early: its promoted model saw `follow_up[1]` post-event
    days (fewer than settle_post_event_days); once that many have matured, the new regime is learned
    from them, drift or not (the new champion's own reference may no longer show it)."""
    if follow_up is None or post_event_days < monitor.settle_post_event_days:
        return None
    start, seen = follow_up
    return Decision(RETRAIN, f"follow-up of the incident started {start}: its promoted model was trained "
                             f"with {seen} post-event day(s); {post_event_days} have matured", start)


def decide_bootstrap(trainable: bool, why_not: str) -> Decision:
    """No champion: retrain (bootstrap) once the training window and holdout exist, else wait."""
    if trainable:
        return Decision(RETRAIN, "bootstrap: no champion yet and enough closed days with matured labels")
    return Decision(NO_CHAMPION, f"no champion yet; not enough data to bootstrap: {why_not}")


def decide_drift(history: list[dict], day: dt.date, drifted: bool, post_event_days: int,
                 monitor: Monitor, champion: str | None = None,
                 follow_up: tuple[dt.date, int] | None = None,
                 warm_up: tuple[dt.date, int, int, int] | None = None) -> Decision:
    """The verdict of a window with a champion (`champion`, the version checked), from its drift flag and
    the monitor's history. `follow_up` is (start, post-event days seen) of an incident answered by a model
    that saw fewer than settle_post_event_days; then `post_event_days` counts that incident's days when
    the window did not drift. `warm_up` (bootstrap day, its training days, days now, refused attempts)
    is due on a quiet window."""
    if not drifted:
        quiet = Decision(NO_DRIFT, "no drift signal in this window")
        return _follow_up(follow_up, post_event_days, monitor) or _warm_up(warm_up, monitor) or quiet
    start = event_start(history, day, monitor.incident_quiet_windows)
    if follow_up is not None and follow_up[0] == start and (again := _follow_up(follow_up, post_event_days,
                                                                                monitor)):
        return again
    hits = persistence(history, day, drifted, monitor.persistence_n)
    if hits < monitor.persistence_k:
        return Decision(DRIFT, f"drift in {hits} of the last {monitor.persistence_n} windows; "
                               f"a retrain needs {monitor.persistence_k}", start)
    attempts = incident_attempts(history, day, start)
    previous = last_retrain(history, day)
    # the last retrain was this incident's and the gate refused it (its champion is still the champion)
    refused = bool(attempts) and champion is not None and attempts[-1].get("champion") == champion
    retrying = refused and attempts[-1]["day"] == str(previous)
    if previous is not None and (day - previous).days <= monitor.cooldown_days and not retrying:
        return Decision(DRIFT, f"cooldown: retrain requested on {previous}, "
                               f"within {monitor.cooldown_days} days", start)
    if attempts and (why := _retry(attempts, day, champion, monitor)):
        return Decision(DRIFT, f"incident started {start}: {why}", start)
    if post_event_days < monitor.min_post_event_days:
        return Decision(DEFERRED, f"{post_event_days} post-event day(s) with matured labels since {start}; "
                                  f"retrain waits for {monitor.min_post_event_days}", start)
    again = f"; attempt {len(attempts) + 1} of {monitor.max_retrain_attempts}, the earlier refused" \
        if attempts else ""
    return Decision(RETRAIN, f"drift persisting since {start} ({hits} of the last {monitor.persistence_n} "
                             f"windows) with {post_event_days} post-event day(s) of matured labels{again}",
                    start)
