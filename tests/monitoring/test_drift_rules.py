"""The monitor's pure decision rules, table-driven: persistence, incident, cooldown, deferral, bootstrap."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from pipelines.config import load_params
from pipelines.monitoring import rules as r

pytestmark = pytest.mark.unit

D = dt.date(2025, 9, 20)


BASE = {"persistence_k": 1, "persistence_n": 2, "cooldown_days": 5, "min_post_event_days": 3,
        "incident_quiet_windows": 1}  # fixed here


def rules(**overrides):
    """The monitor section with the rule parameters of this table (params.yaml may be tuned apart)."""
    return dataclasses.replace(load_params().monitor, **{**BASE, **overrides})


def history(*rows: tuple[int, bool, str, int | None]) -> list[dict]:
    """(days before D, drifted, verdict, event start as days before D) -> monitor records."""
    return [{"day": (D - dt.timedelta(days=ago)).isoformat(), "drifted": drifted, "verdict": verdict,
             "event_start": None if start is None else (D - dt.timedelta(days=start)).isoformat()}
            for ago, drifted, verdict, start in rows]


CASES = [
    # (name, history, drifted today, post-event days, overrides, verdict, event start as days before D)
    ("quiet day", [], False, 0, {}, r.NO_DRIFT, None),
    ("first drift, k=1, labels matured", [], True, 3, {}, r.RETRAIN, 0),
    ("first drift, too few post-event days", [], True, 1, {}, r.DEFERRED, 0),
    ("k=2 of n=3: only today", history((1, False, r.NO_DRIFT, None)), True, 3,
     {"persistence_k": 2, "persistence_n": 3}, r.DRIFT, 0),
    ("k=2 of n=3: today and two days ago",
     history((2, True, r.DRIFT, 2), (1, False, r.NO_DRIFT, None)), True, 3,
     {"persistence_k": 2, "persistence_n": 3}, r.RETRAIN, 0),
    ("k=2 of n=3: a drift four days ago is outside", history((3, True, r.DRIFT, 3)), True, 3,
     {"persistence_k": 2, "persistence_n": 3}, r.DRIFT, 0),
    ("missing day breaks nothing but counts as no drift", history((2, True, r.DRIFT, 2)), True, 3,
     {"persistence_k": 3, "persistence_n": 3}, r.DRIFT, 0),
    ("incident runs back over consecutive drifted days",
     history((3, False, r.NO_DRIFT, None), (2, True, r.DEFERRED, 2), (1, True, r.DEFERRED, 2)), True, 3, {},
     r.RETRAIN, 2),
    ("deferred until post-event labels", history((1, True, r.DEFERRED, 1)), True, 2, {}, r.DEFERRED, 1),
    ("cooldown after a retrain", history((3, True, r.RETRAIN, 3), (2, False, r.NO_DRIFT, None)), True, 3,
     {"cooldown_days": 5}, r.DRIFT, 0),
    ("cooldown over", history((6, True, r.RETRAIN, 6)), True, 3, {"cooldown_days": 5}, r.RETRAIN, 0),
    ("one incident, one retrain", history((7, True, r.DEFERRED, 7), (6, True, r.RETRAIN, 7),
                                          *((i, True, r.DRIFT, 7) for i in range(5, 0, -1))), True, 3,
     {"cooldown_days": 2}, r.DRIFT, 7),
    ("a later record never changes an earlier day", history((-1, True, r.RETRAIN, -1)), True, 3, {},
     r.RETRAIN, 0),
    # hysteresis: an incident ends only after `incident_quiet_windows` quiet windows in a row
    ("a flapping drift is one incident and retrains on k of n",
     history((4, True, r.DRIFT, 4), (3, False, r.NO_DRIFT, None), (2, True, r.DRIFT, 4),
             (1, False, r.NO_DRIFT, None)), True, 3,
     {"incident_quiet_windows": 2, "persistence_k": 2, "persistence_n": 3}, r.RETRAIN, 4),
    ("without hysteresis each flap starts anew and waits for post-event days",
     history((4, True, r.DRIFT, 4), (3, False, r.NO_DRIFT, None), (2, True, r.DRIFT, 2),
             (1, False, r.NO_DRIFT, None)), True, 0,
     {"incident_quiet_windows": 1, "persistence_k": 2, "persistence_n": 3}, r.DEFERRED, 0),
    ("a flapping incident retrains once",
     history((5, True, r.RETRAIN, 5), (4, False, r.NO_DRIFT, None), (3, True, r.DRIFT, 5),
             (2, False, r.NO_DRIFT, None), (1, True, r.DRIFT, 5)), True, 3,
     {"incident_quiet_windows": 2, "cooldown_days": 1}, r.DRIFT, 5),
    ("the incident ends after enough quiet windows",
     history((4, True, r.DRIFT, 4), (3, False, r.NO_DRIFT, None), (2, False, r.NO_DRIFT, None),
             (1, False, r.NO_DRIFT, None)), True, 3, {"incident_quiet_windows": 3}, r.RETRAIN, 0),
    ("missing records count as quiet",
     history((4, True, r.DRIFT, 4)), True, 3, {"incident_quiet_windows": 3}, r.RETRAIN, 0),
]


@pytest.mark.parametrize(("name", "hist", "drifted", "post", "overrides", "verdict", "start"), CASES,
                         ids=[c[0] for c in CASES])
def test_decide_drift(name, hist, drifted, post, overrides, verdict, start) -> None:
    decision = r.decide_drift(hist, D, drifted, post, rules(**overrides))
    assert decision.verdict == verdict, decision.reason
    expected = None if start is None else D - dt.timedelta(days=start)
    assert decision.event_start == expected


def test_the_default_persistence_retrains_a_shift_not_a_few_heavy_days() -> None:
    """params.yaml's own rule (chosen on the policy benchmark): a stationary run's two heavy-delay days,
    a quiet day and a skill-drop day (seed 8's days 25-28) ask for no retrain; three drifted days in a
    row, as a construction gives from its first day, do."""
    default = load_params().monitor
    heavy = history((3, True, r.DRIFT, 3), (2, True, r.DRIFT, 3), (1, False, r.NO_DRIFT, None))
    decision = r.decide_drift(heavy, D, True, 4, default)
    assert decision.verdict == r.DRIFT and "a retrain needs 3" in decision.reason, decision.reason
    shift = history((3, False, r.NO_DRIFT, None), (2, True, r.DRIFT, 2), (1, True, r.DRIFT, 2))
    decision = r.decide_drift(shift, D, True, default.min_post_event_days, default)
    assert decision.verdict == r.RETRAIN and decision.event_start == D - dt.timedelta(days=2), decision.reason


def test_deferral_reason_names_the_event_start_and_the_wait() -> None:
    decision = r.decide_drift(history((1, True, r.DEFERRED, 1)), D, True, 1, rules(min_post_event_days=3))
    assert str(D - dt.timedelta(days=1)) in decision.reason and "waits for 3" in decision.reason


@pytest.mark.parametrize(("ready", "verdict"), [(False, r.NO_CHAMPION), (True, r.RETRAIN)])
def test_bootstrap(ready, verdict) -> None:
    decision = r.decide_bootstrap(ready, "only 3 service dates")
    assert decision.verdict == verdict and decision.event_start is None
    assert ("bootstrap" in decision.reason) if ready else ("only 3 service dates" in decision.reason)


def test_persistence_counts_the_latest_window() -> None:
    hist = history((1, True, r.DRIFT, 1), (2, True, r.DRIFT, 2))
    assert r.persistence(hist, D, True, 3) == 3
    assert r.persistence(hist, D, False, 3) == 2
    assert r.persistence(hist, D, True, 1) == 1


def test_train_reads_the_event_start_of_a_drift_trigger() -> None:
    from pipelines.modeling.train_data import event_start

    per_day = {"2025-09-17": {"event_start": "2025-09-15"}, "2025-09-18": {"event_start": "2025-09-16"}}
    assert event_start({"kind": "drift", "evidence": per_day}) == dt.date(2025, 9, 16)
    assert event_start({"kind": "drift", "evidence": {"event_start": "2025-09-15"}}) == dt.date(2025, 9, 15)
    assert event_start({"kind": "drift", "evidence": {"stand_in": "x"}}) is None
    assert event_start({"kind": "bootstrap", "evidence": per_day}) is None


def served(*rows: tuple[int, bool, str, int | None, str]) -> list[dict]:
    """history() rows with the champion each day was checked against."""
    return [{**record, "champion": champion}
            for record, (*_, champion) in zip(history(*(row[:4] for row in rows)), rows, strict=True)]


def incident(retrains: tuple[int, ...], since: int) -> list[dict]:
    """Drifted windows every day from `since` days before D, retrain verdicts on `retrains`, all checked
    against champion 1 (so every retrain was refused by the gate)."""
    return [(ago, True, r.RETRAIN if ago in retrains else r.DRIFT, since, "1") for ago in range(since, 0, -1)]


RETRY_CASES = [
    # (name, history, champion today, overrides, verdict, reason contains)
    ("a refused retrain is tried again while the drift persists", served(*incident((4,), 4)), "1",
     {"retry_after_days": 2}, r.RETRAIN, "attempt 2 of 3"),
    ("not before retry_after_days", served(*incident((4,), 4)), "1", {"retry_after_days": 5}, r.DRIFT,
     "attempt 2 on"),
    ("at most max_retrain_attempts", served(*incident((8, 6, 4), 8)), "1", {"max_retrain_attempts": 3},
     r.DRIFT, "gave up: the gate refused all 3"),
    ("a promoted retrain answers the incident: cooldown first", served(*incident((4,), 4)), "2",
     {"cooldown_days": 5}, r.DRIFT, "cooldown"),
    ("... and after the cooldown it is done", served(*incident((4,), 4)), "2", {"cooldown_days": 1},
     r.DRIFT, "already answered"),
]


@pytest.mark.parametrize(("name", "hist", "champion", "overrides", "verdict", "reason"), RETRY_CASES,
                         ids=[c[0] for c in RETRY_CASES])
def test_a_refused_retrain_does_not_end_the_incident(name, hist, champion, overrides, verdict,
                                                     reason) -> None:
    """Before, an incident whose retrain the gate refused never retrained again."""
    settings = {"max_retrain_attempts": 3, "retry_after_days": 2, **overrides}
    decision = r.decide_drift(hist, D, True, 5, rules(**settings), champion)
    assert decision.verdict == verdict and reason in decision.reason, decision.reason
    assert decision.event_start == D - dt.timedelta(days=8 if "gave up" in reason else 4)


def test_a_promoted_drift_retrain_is_the_answered_incident() -> None:
    hist = served(*incident((4,), 4))
    assert r.answered_incident(hist, D, "2") == (D - dt.timedelta(days=4), D - dt.timedelta(days=4))
    assert r.answered_incident(hist, D, "1") is None, "refused: the champion it was checked against stays"
    assert r.answered_incident(hist, D, None) is None
    boot = served((3, False, r.RETRAIN, None, "1"))
    assert r.answered_incident(boot, D, "2") is None, "a bootstrap is no incident"


START = D - dt.timedelta(days=5)
FOLLOW_UP_CASES = [
    # (name, drifted today, follow-up, post-event days, verdict, reason contains)
    ("quiet, the promoted model saw 2 days, 6 matured", False, (START, 2), 6, r.RETRAIN, "follow-up"),
    ("quiet, not matured yet", False, (START, 2), 5, r.NO_DRIFT, "no drift signal"),
    ("quiet, no early answer", False, None, 6, r.NO_DRIFT, "no drift signal"),
    ("still drifting: no cooldown for the follow-up", True, (START, 2), 6, r.RETRAIN, "follow-up"),
    ("drifting in a new incident: the usual rules", True, (D - dt.timedelta(days=20), 2), 6, r.DRIFT,
     "cooldown"),
]


@pytest.mark.parametrize(("name", "drifted", "follow_up", "post", "verdict", "reason"), FOLLOW_UP_CASES,
                         ids=[c[0] for c in FOLLOW_UP_CASES])
def test_an_incident_answered_early_is_retrained_once_more(name, drifted, follow_up, post, verdict,
                                                           reason) -> None:
    hist = served(*((ago, True, r.RETRAIN if ago == 3 else r.DRIFT, 5, "1") for ago in range(5, 0, -1)))
    decision = r.decide_drift(hist, D, drifted, post, rules(settle_post_event_days=6, cooldown_days=5), "2",
                              follow_up)
    assert decision.verdict == verdict and reason in decision.reason, decision.reason
    if verdict == r.RETRAIN:
        assert decision.event_start == START


def test_a_promoted_bootstrap_is_warmed_up_on_a_quiet_window_and_a_refused_warm_up_is_tried_again() -> None:
    boot = D - dt.timedelta(days=7)
    hist = served((7, False, r.RETRAIN, None, None), (6, False, r.NO_DRIFT, None, "1"))
    monitor = rules(retry_after_days=2, max_retrain_attempts=3)
    assert r.warm_up_due(hist, D, "1", monitor) == (boot, 0)
    assert r.warm_up_due(hist, D, None, monitor) is None, "not promoted (yet)"
    decision = r.decide_drift(hist, D, False, 0, monitor, "1", None, (boot, 7, 14, 0))
    assert (decision.verdict, decision.kind, decision.event_start) == (r.RETRAIN, r.WARM_UP, None)
    assert "trained on 7 day(s); the full window of 14 days" in decision.reason
    assert "attempt" not in decision.reason
    assert r.decide_drift(hist, D, False, 0, monitor, "1").verdict == r.NO_DRIFT
    refused = [*hist, *served((2, False, r.RETRAIN, None, "1"))]   # a warm-up checked against champion 1
    assert r.warm_up_due(refused, D - dt.timedelta(days=1), "1", monitor) is None, "retry_after_days"
    assert r.warm_up_due(refused, D, "1", monitor) == (boot, 1), "refused: tried again 2 days later"
    again = r.decide_drift(refused, D, False, 0, monitor, "1", None, (boot, 7, 14, 1))
    assert again.verdict == r.RETRAIN and "attempt 2 of 3, the earlier refused" in again.reason
    assert r.warm_up_due(refused, D, "2", monitor) is None, "promoted: done"
    three = [*hist, *served(*((ago, False, r.RETRAIN, None, "1") for ago in (6, 4, 2)))]
    assert r.warm_up_due(three, D, "1", monitor) is None, "max_retrain_attempts"
    drift = [*hist, *served((3, True, r.RETRAIN, 3, "1"))]
    assert r.warm_up_due(drift, D, "1", monitor) is None, "a drift retrain ends the warm-up"
