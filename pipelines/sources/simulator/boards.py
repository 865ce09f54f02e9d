"""Departure boards as the DBF JSON API v3 shows them (docs/RAIL_FACTS.md section 1), from simulator truth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipelines import schema as s
from pipelines.sources.dbf.reasons import REASON_TEXTS  # the one code <-> text table; ingest maps texts back
from pipelines.sources.simulator.forecast import NULL, Prepared, board_pairs, prepare
from pipelines.timeutil import BERLIN, UTC

DEFAULT_LOOKAHEAD_MIN = 180
ADMODES = ("dep", "arr", "deparr")

__all__ = ["REASON_TEXTS", "board_departures", "board_frame", "parse_filters"]


def _as_prepared(truth: pd.DataFrame | Prepared, lookahead_min: int) -> Prepared:
    return truth if isinstance(truth, Prepared) else prepare(truth, lookahead_min)


def board_frame(prep: Prepared, station: str, t: dt.datetime) -> pd.DataFrame:
    """The pairs (see forecast.board_pairs) of one board, sorted by forecast time then train number."""
    names = prep.stops.station_names
    code = int(np.searchsorted(names, station))
    if code >= len(names) or names[code] != station:
        return board_pairs(prep, np.zeros(0, np.int64), np.zeros(0, np.int64))
    secs = int(t.astimezone(UTC).timestamp())  # boards work in whole seconds, like the Date header
    pairs = board_pairs(prep, np.array([code], np.int64), np.array([secs], np.int64))
    pairs["number"] = prep.stops.static.column(s.TRAIN_NUMBER).take(pairs["row"].to_numpy()).to_pylist()
    return pairs.sort_values(["forecast", "number"], kind="stable").reset_index(drop=True)


def _local_stamp(secs: int) -> str:
    return dt.datetime.fromtimestamp(secs, UTC).astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M:%S")


def _delay(value: int) -> int | None:
    return None if value == NULL else int(value)


def _departure(prep: Prepared, pair: Any) -> dict[str, Any]:
    """One DBF v3 departure object."""
    st, row = prep.stops, int(pair.row)
    static = {
        k: st.static.column(k)[row].as_py()
        for k in (s.TRAIN, s.TRAIN_NUMBER, s.TRAIN_CLASSES, s.DESTINATION, s.PLATFORM, s.SCHEDULED_PLATFORM)
    }
    codes = st.reasons[pair.known_row].split(",") if st.reasons[pair.known_row] else []
    stamp = _local_stamp(int(pair.known_time)) if codes else None
    return {
        "train": static[s.TRAIN],
        "trainClasses": list(static[s.TRAIN_CLASSES] or ""),
        "trainNumber": static[s.TRAIN_NUMBER],
        "destination": static[s.DESTINATION],
        "platform": static[s.PLATFORM] if pair.platform_known else static[s.SCHEDULED_PLATFORM],
        "scheduledPlatform": static[s.SCHEDULED_PLATFORM],
        "scheduledArrival": st.hhmm("arr")[row],
        "scheduledDeparture": st.hhmm("dep")[row],
        "delayArrival": _delay(pair.delay_arr),
        "delayDeparture": _delay(pair.delay_dep),
        "isCancelled": int(st.cancelled[row]),
        "missingRealtime": False,
        "messages": {"delay": [{"timestamp": stamp, "text": REASON_TEXTS[c]} for c in codes], "qos": []},
        "route": [dict(stop) for stop in st.routes[row]],
        "via": list(st.vias[row]),
    }


def parse_filters(query: Mapping[str, str]) -> dict[str, Any]:
    """Board filters from DBF query parameters (admode, limit, lines, train_types, platforms, via)."""

    def items(key: str) -> list[str]:
        return [v.strip() for v in query.get(key, "").split(",") if v.strip()]

    admode = query.get("admode", "deparr")
    limit = query.get("limit", "")
    return {
        "admode": admode if admode in ADMODES else "deparr",
        "limit": int(limit) if limit.isdigit() else None,
        "lines": items("lines"),
        "train_types": items("train_types"),
        "platforms": items("platforms"),
        "via": query.get("via", "").strip(),
    }


def _keep(dep: dict[str, Any], station: str, f: Mapping[str, Any]) -> bool:
    """Whether a departure passes the DBF filters."""
    if f.get("admode") == "dep" and dep["scheduledDeparture"] is None:
        return False
    if f.get("admode") == "arr" and dep["scheduledArrival"] is None:
        return False
    if f.get("lines") and not any(dep["train"].startswith(p) for p in f["lines"]):
        return False
    if f.get("train_types") and dep["train"].split(" ")[0] not in f["train_types"]:
        return False
    if f.get("platforms") and dep["platform"] not in f["platforms"]:
        return False
    if f.get("via"):
        names = [r["name"] for r in dep["route"]]
        after = names[names.index(station) + 1 :] if station in names else []
        return any(f["via"].lower() in n.lower() for n in after)
    return True


def board_departures(
    truth: pd.DataFrame | Prepared,
    station: str,
    t: dt.datetime,
    filters: Mapping[str, Any] | None = None,
    lookahead_min: int = DEFAULT_LOOKAHEAD_MIN,
) -> list[dict[str, Any]]:
    """The departure objects the board of `station` shows at instant `t`, sorted by forecast time.

    `truth` is a truth frame or a `forecast.prepare`d one (whose lookahead then applies).
    """
    prep = _as_prepared(truth, lookahead_min)
    filters = filters or {}
    out = [
        d
        for pair in board_frame(prep, station, t).itertuples(index=False)
        if _keep(d := _departure(prep, pair), station, filters)
    ]
    return out[: filters["limit"]] if filters.get("limit") else out
