"""Pure feature computations: what the boards showed about a departure up to its prediction point.

The prediction point t_pred of a departure is its `last_seen`: the last poll that showed the train at
its departing station. Every function here only looks at snapshot rows with poll_time <= t_pred.
"""

from __future__ import annotations

import pandas as pd

from pipelines import schema as s

GROUP = [s.STATION, s.SERVICE_DATE, s.TRAIN_NUMBER]
LONG_DISTANCE = ("ICE", "IC")
NO_REASON = "none"


def corridor_of(route: str) -> str:
    """'<first stop>-<last stop>' sorted, so both directions of a route share one corridor."""
    stops = route.split("|")
    return "-".join(sorted((stops[0], stops[-1])))


def line_of(train: str, category: str, route: str) -> str:
    """The line: the train label for RE/RB/S; category plus corridor for ICE/IC (labels are numbers)."""
    return f"{category} {corridor_of(route)}" if category in LONG_DISTANCE else train


def remaining_stops(route: str, cancelled: str | None, station: str) -> int:
    """Route stops after `station` that are not cancelled."""
    stops = route.split("|")
    if station not in stops:
        return 0
    dropped = set(cancelled.split("|")) if cancelled else set()
    return sum(1 for stop in stops[stops.index(station) + 1:] if stop not in dropped)


def reason_list(codes: str | None) -> list[str]:
    """The delay reason codes of a snapshot, newest first."""
    return [c for c in (codes or "").split(",") if c]


def trend_slopes(history: pd.DataFrame, trend_polls: int) -> pd.Series:
    """Least-squares slope of delay_departure over the last `trend_polls` polls of each departure.

    Minutes per poll, indexed by departure_id; 0 below two polls with a delay. `history` is in poll order.
    """
    shown = history[history[s.DELAY_DEPARTURE].notna()]
    tail = shown.groupby(s.DEPARTURE_ID, sort=False).tail(trend_polls)
    x = tail.groupby(s.DEPARTURE_ID, sort=False).cumcount().astype("float64")
    y = tail[s.DELAY_DEPARTURE].astype("float64")
    sums = pd.DataFrame({"n": 1.0, "x": x, "y": y, "xy": x * y, "xx": x * x}).groupby(
        tail[s.DEPARTURE_ID], sort=True).sum()
    spread = sums["n"] * sums["xx"] - sums["x"] ** 2   # zero exactly when fewer than two polls
    slope = (sums["n"] * sums["xy"] - sums["x"] * sums["y"]) / spread.where(spread > 0)
    return slope.fillna(0.0).reindex(history[s.DEPARTURE_ID].unique(), fill_value=0.0)


def with_lines(snaps: pd.DataFrame) -> pd.DataFrame:
    """Snapshot rows with the LINE column (computed once per distinct train label and route)."""
    keys = snaps[[s.TRAIN, s.CATEGORY, s.ROUTE]].drop_duplicates()
    keys[s.LINE] = [line_of(t, c, r) for t, c, r in zip(keys[s.TRAIN], keys[s.CATEGORY], keys[s.ROUTE],
                                                            strict=True)]
    return snaps.merge(keys, on=[s.TRAIN, s.CATEGORY, s.ROUTE], how="left")


def own_history(departures: pd.DataFrame, snaps: pd.DataFrame) -> pd.DataFrame:
    """Each departure's own rows at its station with poll_time <= t_pred, one per poll, in poll order."""
    rows = snaps.merge(departures[[s.DEPARTURE_ID, *GROUP, s.T_PRED]], on=GROUP)
    rows = rows[rows[s.POLL_TIME] <= rows[s.T_PRED]]
    # Duplicate rows of one poll: keep one deterministically (as detection does, highest delay wins).
    rows = rows.sort_values([s.DEPARTURE_ID, s.POLL_TIME, s.DELAY_DEPARTURE], kind="mergesort",
                            na_position="first")
    return rows.drop_duplicates([s.DEPARTURE_ID, s.POLL_TIME], keep="last")


def station_features(history: pd.DataFrame, trend_polls: int) -> pd.DataFrame:
    """Features read at the departing station at t_pred, indexed by departure_id."""
    last = history.groupby(s.DEPARTURE_ID, sort=True).tail(1).set_index(s.DEPARTURE_ID)
    reasons = last[s.REASON_CODES].map(reason_list)
    changed = last[s.PLATFORM].notna() & last[s.SCHEDULED_PLATFORM].notna() & (
        last[s.PLATFORM] != last[s.SCHEDULED_PLATFORM])
    trend = trend_slopes(history, trend_polls).reindex(last.index)
    return pd.DataFrame({
        s.DELAY_AT_PRED: last[s.DELAY_DEPARTURE].astype("float64"),
        s.REMAINING_STOPS: [remaining_stops(r, c, st) for r, c, st in
                            zip(last[s.ROUTE], last[s.CANCELLED_STOPS], last[s.STATION], strict=True)],
        s.DELAY_TREND: trend,
        s.PLATFORM_CHANGE: changed.astype("int8"),
        s.REASON_CODE: reasons.map(lambda r: r[0] if r else NO_REASON),
        s.N_REASONS: reasons.map(len).astype("int16"),
    }, index=last.index)


def destination_view(departures: pd.DataFrame, snaps: pd.DataFrame) -> pd.DataFrame:
    """The latest planned-destination board row showing each train at or before its t_pred."""
    dest = snaps[[s.STATION, s.SERVICE_DATE, s.TRAIN_NUMBER, s.POLL_TIME, s.DELAY_ARRIVAL,
                  s.SCHEDULED_ARRIVAL, s.IS_CANCELLED]]
    dest = dest.rename(columns={s.STATION: s.PLANNED_DESTINATION})
    keys = [s.PLANNED_DESTINATION, s.SERVICE_DATE, s.TRAIN_NUMBER]
    rows = dest.merge(departures[[s.DEPARTURE_ID, *keys, s.T_PRED]], on=keys)
    rows = rows[(rows[s.POLL_TIME] <= rows[s.T_PRED]) & rows[s.SCHEDULED_ARRIVAL].notna()]
    rows = rows.sort_values([s.DEPARTURE_ID, s.POLL_TIME, s.DELAY_ARRIVAL], kind="mergesort",
                            na_position="first")
    last = rows.groupby(s.DEPARTURE_ID, sort=True).tail(1).set_index(s.DEPARTURE_ID)
    # A cancelled stop keeps its timetable, but its delay is no forecast (the board shows 0 for it).
    forecast = last[s.DELAY_ARRIVAL].astype("float64").where(~last[s.IS_CANCELLED].astype(bool))
    return pd.DataFrame({s.DELAY_ARRIVAL: forecast, s.SCHEDULED_ARRIVAL: last[s.SCHEDULED_ARRIVAL]})


def calendar_features(departures: pd.DataFrame) -> pd.DataFrame:
    """Hour (Berlin, of the scheduled departure), weekday of the service date, lateness at t_pred."""
    local = departures[s.SCHEDULED_DEPARTURE].dt.tz_convert(s.TZ_LOCAL)
    late = (departures[s.T_PRED] - departures[s.SCHEDULED_DEPARTURE]).dt.total_seconds() / 60.0
    weekday = pd.to_datetime(departures[s.SERVICE_DATE]).dt.weekday
    return pd.DataFrame({s.HOUR: local.dt.hour.astype("int16"), s.WEEKDAY: weekday.astype("int16"),
                         s.LATE_VS_SCHEDULE_MIN: late.astype("float64")}, index=departures.index)
