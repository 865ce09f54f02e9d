"""Steps of the in-process loop: the DAGs' daily intervals, the retrain sequence, the monitor's verdicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.errors import StageError
from pipelines.runtime import lifecycle
from pipelines.runtime.context import Context
from pipelines.runtime.schedule import DAILY_AT
from pipelines.timeutil import BERLIN, UTC

# The loop's ticks follow the DAGs' own times (schedule.DAILY_AT); build_dataset runs with ingest.
INGEST_AT, SCORE_AT, MONITOR_AT = DAILY_AT["ingest"], DAILY_AT["score"], DAILY_AT["monitor"]
Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Tick:
    """The data intervals of one daily run of each DAG (ingest also drives build_dataset)."""

    ingest: Interval
    score: Interval
    monitor: Interval


def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    """UTC instant of a Berlin wall-clock time on `day`."""
    return dt.datetime.combine(day, time, tzinfo=BERLIN).astimezone(UTC)


def day_tick(day: dt.date) -> Tick:
    """The intervals ending on the morning after `day`: that runs build, score and monitor day - 1."""
    nxt = day + dt.timedelta(days=1)
    return Tick(*((at_local(day, t), at_local(nxt, t)) for t in (INGEST_AT, SCORE_AT, MONITOR_AT)))


def ticks(params: Params, first: dt.date, days: int) -> Iterator[Tick]:
    """Daily ticks of `days` calendar days, then a partial tick running until the last day has closed."""
    for i in range(days):
        yield day_tick(first + dt.timedelta(days=i))
    last = first + dt.timedelta(days=days - 1)
    end = close_time(params, last) + dt.timedelta(hours=1)  # closed days are those with close < end
    nxt = last + dt.timedelta(days=1)
    yield Tick(*((at_local(nxt, t), end) for t in (INGEST_AT, SCORE_AT, MONITOR_AT)))


def retrain(ctx: Context, request: Mapping[str, Any], actor: str) -> dict:
    """The retrain DAG's tasks in order (train -> evaluate -> promote -> notify); their headline."""
    trigger = str(request["trigger"]["kind"])
    try:
        trained = lifecycle.train_model(ctx, request)
    except StageError as exc:  # the DAG's task would fail and alert; the loop records it and goes on
        return {"trigger": trigger, "as_of": request["as_of"], "version": None, "passed": False,
                "promoted": False, "reason": f"train failed: {exc}"}
    decision = lifecycle.evaluate_model(ctx, trained)
    promotion = lifecycle.promote_model(ctx, decision, actor=actor)
    lifecycle.notify_decision(ctx, decision, promotion)
    return {"trigger": trigger, "as_of": request["as_of"], "version": str(trained["version"]),
            "champion_before": decision.get("champion_version"), "passed": bool(decision.get("passed")),
            "promoted": bool(promotion.get("moved")),
            "reason": promotion.get("reason") or decision.get("reason")}


def monitor_verdicts(ctx: Context, days: list[dt.date],
                     window_end: dt.datetime) -> tuple[dict[str, dict], list[dict]]:
    """The monitor DAG task (lifecycle.monitor_days: alerts and drift events), plus each day's verdict."""
    from pipelines.monitoring import monitor

    events = lifecycle.monitor_days(ctx, days, window_end, emitter=f"loop:{window_end.isoformat()}")
    return {d.isoformat(): monitor.read_decision(ctx.params, ctx.layout, d) for d in days}, events
