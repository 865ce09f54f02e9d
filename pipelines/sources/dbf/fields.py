"""Coercion of one DBF v3 departure object into one snapshot row (or a reason to quarantine it)."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from pipelines import schema as s
from pipelines.sources.dbf.localtime import parse_hhmm, resolve_local_time
from pipelines.sources.dbf.reasons import TEXT_TO_CODE
from pipelines.timeutil import BERLIN, service_date_for_local

INT16 = (-(2**15), 2**15 - 1)
_PREFIX = re.compile(r"[A-Za-z]+")


class RecordError(ValueError):
    """A departure object that cannot become a snapshot row; `reason` is its quarantine code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(rec: dict, key: str, required: bool = False) -> str | None:
    """A string field; numbers become text (platforms and train numbers sometimes arrive as numbers)."""
    if key not in rec:
        if required:
            raise RecordError(f"missing_field:{key}")
        return None
    value = rec[key]
    if value is None:
        if required:
            raise RecordError(f"missing_field:{key}")
        return None
    if _is_int(value):
        return str(value)
    if not isinstance(value, str):
        raise RecordError(f"wrong_type:{key}")
    return value


def _delay(rec: dict, key: str) -> int | None:
    value = rec.get(key)
    if value is None:
        return None
    if not _is_int(value):
        raise RecordError(f"wrong_type:{key}")
    if not INT16[0] <= value <= INT16[1]:
        raise RecordError(f"out_of_range:{key}")
    return value


def _flag(rec: dict, key: str) -> bool:
    """A 0/1 number or a boolean (isCancelled is a number in v3, missingRealtime a boolean)."""
    value = rec.get(key)
    kind = type(value)  # exact type checks: this runs for every route stop, and bool is an int subclass
    if value is None or kind is bool:
        return bool(value)
    if kind is int and value in (0, 1):
        return bool(value)
    raise RecordError(f"wrong_type:{key}")


def _strings(rec: dict, key: str) -> list[str]:
    value = rec.get(key)
    value = [] if value is None else value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"wrong_type:{key}")
    return value


def _route(rec: dict) -> tuple[str, str, str]:
    """("|"-joined full route, its cancelled stops, its additional stops)."""
    stops = rec.get("route")
    stops = [] if stops is None else stops
    if not isinstance(stops, list):
        raise RecordError("wrong_type:route")
    names, cancelled, added = [], [], []
    for stop in stops:
        if not isinstance(stop, dict) or not isinstance(stop.get("name"), str):
            raise RecordError("wrong_type:route")
        names.append(stop["name"])
        if _flag(stop, "isCancelled"):
            cancelled.append(stop["name"])
        if _flag(stop, "isAdditional"):
            added.append(stop["name"])
    return "|".join(names), "|".join(cancelled), "|".join(added)


def _reason_codes(rec: dict) -> str:
    """IRIS codes of messages.delay, newest first as the board lists them; unknown texts are skipped."""
    messages = rec.get("messages")
    messages = {} if messages is None else messages
    delays = messages.get("delay") if isinstance(messages, dict) else None
    delays = [] if delays is None else delays
    if not isinstance(messages, dict) or not isinstance(delays, list):
        raise RecordError("wrong_type:messages")
    codes: list[str] = []
    for message in delays:
        text = message.get("text") if isinstance(message, dict) else None
        code = TEXT_TO_CODE.get(text) if isinstance(text, str) else None
        if code and code not in codes:
            codes.append(code)
    return ",".join(codes)


def _time(rec: dict, key: str, delay: int | None, poll_time: dt.datetime) -> dt.datetime | None:
    text = _text(rec, key)
    if text is None:
        return None
    clock = parse_hhmm(text)
    if clock is None:
        raise RecordError(f"bad_time:{key}")
    return resolve_local_time(clock, delay, poll_time)


@lru_cache(maxsize=65536)
def _service_date(scheduled: dt.datetime) -> dt.date:
    """Service day of a resolved stop time (cached: boards show the same stops poll after poll)."""
    return service_date_for_local(scheduled.astimezone(BERLIN))


@lru_cache(maxsize=4096)
def category_of(train: str) -> str:
    """ICE, IC, RE, RB or S from the letters that start the label; anything else is OTHER."""
    match = _PREFIX.match(train.strip())
    prefix = match.group(0).upper() if match else ""
    return prefix if prefix in s.CATEGORIES else "OTHER"


def coerce_record(rec: Any, station: str, poll_time: dt.datetime) -> dict[str, Any]:
    """One snapshot row (column -> value) from a departure object; raises RecordError."""
    if not isinstance(rec, dict):
        raise RecordError("not_an_object")
    train = _text(rec, "train", required=True)
    number = _text(rec, "trainNumber", required=True).strip()
    if not train.strip() or not number:
        raise RecordError("missing_field:train" if not train.strip() else "missing_field:trainNumber")
    delay_arr, delay_dep = _delay(rec, "delayArrival"), _delay(rec, "delayDeparture")
    arrival = _time(rec, "scheduledArrival", delay_arr, poll_time)
    departure = _time(rec, "scheduledDeparture", delay_dep, poll_time)
    if arrival is None and departure is None:
        raise RecordError("missing_field:scheduledDeparture")
    route, cancelled, added = _route(rec)
    return {
        s.STATION: station,
        s.POLL_TIME: poll_time,
        s.SERVICE_DATE: _service_date(departure or arrival),
        s.TRAIN: train,
        s.CATEGORY: category_of(train),
        s.TRAIN_NUMBER: number,
        s.TRAIN_CLASSES: "".join(_strings(rec, "trainClasses")),
        s.DESTINATION: _text(rec, "destination", required=True),
        s.PLATFORM: _text(rec, "platform"),
        s.SCHEDULED_PLATFORM: _text(rec, "scheduledPlatform"),
        s.SCHEDULED_ARRIVAL: arrival,
        s.SCHEDULED_DEPARTURE: departure,
        s.DELAY_ARRIVAL: delay_arr,
        s.DELAY_DEPARTURE: delay_dep,
        s.IS_CANCELLED: _flag(rec, "isCancelled"),
        s.MISSING_REALTIME: _flag(rec, "missingRealtime"),
        s.REASON_CODES: _reason_codes(rec),
        s.ROUTE: route,
        s.CANCELLED_STOPS: cancelled,
        s.ADDITIONAL_STOPS: added,
        s.VIA: "|".join(_strings(rec, "via")),
    }
