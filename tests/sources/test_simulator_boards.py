"""Boards built from a small hand-made truth: DBF v3 fields, the forecast model, filters, no leak."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.sources.simulator.boards import REASON_TEXTS, board_departures, parse_filters
from pipelines.sources.simulator.forecast import prepare
from pipelines.timeutil import BERLIN

pytestmark = pytest.mark.unit

DAY = dt.date(2025, 9, 1)


def at(hhmm: str, seconds: int = 0, day: dt.date = DAY) -> dt.datetime:
    """A Berlin wall-clock time on `day` as an aware datetime."""
    h, m = map(int, hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m, seconds), tzinfo=BERLIN)


def _stop(
    run: str,
    number: str,
    train: str,
    classes: str,
    seq: int,
    station: str,
    arr: str | None,
    dep: str | None,
    late_arr: float | None,
    late_dep: float | None,
    **extra: object,
) -> dict:
    """One truth row; late_* are true delays in minutes (None: the event does not happen)."""
    sa, sd = (at(x) if x else None for x in (arr, dep))
    row = {
        s.RUN_ID: run,
        s.SERVICE_DATE: DAY,
        s.TRAIN_NUMBER: number,
        s.TRAIN: train,
        s.CATEGORY: train.split()[0],
        s.TRAIN_CLASSES: classes,
        s.LINE: train,
        s.CORRIDOR: "test",
        s.STOP_SEQ: seq,
        s.STATION: station,
        s.SCHEDULED_ARRIVAL: sa,
        s.SCHEDULED_DEPARTURE: sd,
        s.TRUE_ARRIVAL: sa + dt.timedelta(minutes=late_arr) if sa and late_arr is not None else None,
        s.TRUE_DEPARTURE: sd + dt.timedelta(minutes=late_dep) if sd and late_dep is not None else None,
        s.SCHEDULED_PLATFORM: str(seq + 1),
        s.PLATFORM: str(seq + 1),
        s.STOP_CANCELLED: False,
        s.IS_ADDITIONAL: False,
        s.RUN_CANCELLED: False,
        s.REASON_CODES: "",
    }
    row.update(extra)
    return row


def truth_rows() -> list[dict]:
    """Four runs on four stations: delayed ICE, RE cut short, cancelled S-Bahn, RB with an extra stop."""
    return [
        _stop("r1", "101", "ICE 101", "F", 0, "Aachen Hbf", None, "08:00", None, 2 + 1 / 6),
        _stop(
            "r1",
            "101",
            "ICE 101",
            "F",
            1,
            "Bonn Hbf",
            "08:30",
            "08:32",
            5,
            6,
            reason_codes="43",
            platform="7",
        ),
        _stop("r1", "101", "ICE 101", "F", 2, "Köln Hbf", "09:00", None, 9, None, reason_codes="99,43"),
        _stop("r2", "32557", "RE 7", "N", 0, "Köln Hbf", None, "08:10", None, 0),
        _stop("r2", "32557", "RE 7", "N", 1, "Bonn Hbf", "08:40", "08:41", 1, None),
        _stop("r2", "32557", "RE 7", "N", 2, "Düren", "09:10", "09:11", None, None, stop_cancelled=True),
        _stop("r2", "32557", "RE 7", "N", 3, "Aachen Hbf", "09:40", None, None, None, stop_cancelled=True),
        _stop(
            "r3",
            "39001",
            "S 1",
            "S",
            0,
            "Aachen Hbf",
            None,
            "08:20",
            None,
            None,
            run_cancelled=True,
            stop_cancelled=True,
        ),
        _stop(
            "r3",
            "39001",
            "S 1",
            "S",
            1,
            "Köln Hbf",
            "08:50",
            None,
            None,
            None,
            run_cancelled=True,
            stop_cancelled=True,
        ),
        _stop("r4", "123", "RB 33", "N", 0, "Aachen Hbf", None, "08:05", None, 0),
        _stop("r4", "123", "RB 33", "N", 1, "Düren", "08:20", "08:21", 0, 0, is_additional=True),
        _stop("r4", "123", "RB 33", "N", 2, "Köln Hbf", "08:45", None, -1, None),
    ]


def make_truth(rows: list[dict] | None = None) -> pd.DataFrame:
    """A truth frame with UTC time columns, like the truth engine writes."""
    df = pd.DataFrame(rows or truth_rows())
    for col in (s.SCHEDULED_ARRIVAL, s.SCHEDULED_DEPARTURE, s.TRUE_ARRIVAL, s.TRUE_DEPARTURE):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


@pytest.fixture()
def truth() -> pd.DataFrame:
    return make_truth()


def by_number(board: list[dict]) -> dict[str, dict]:
    return {d["trainNumber"]: d for d in board}


def test_departure_object_has_the_v3_fields(truth: pd.DataFrame) -> None:
    ice = by_number(board_departures(truth, "Bonn Hbf", at("08:25")))["101"]
    assert ice == {
        "train": "ICE 101",
        "trainClasses": ["F"],
        "trainNumber": "101",
        "destination": "Köln Hbf",
        "platform": "7",
        "scheduledPlatform": "2",
        "scheduledArrival": "08:30",
        "scheduledDeparture": "08:32",
        "delayArrival": 2,
        "delayDeparture": 2,
        "isCancelled": 0,
        "missingRealtime": False,
        "messages": {"delay": [], "qos": []},
        "route": [{"name": "Aachen Hbf"}, {"name": "Bonn Hbf"}, {"name": "Köln Hbf"}],
        "via": ["Köln Hbf"],
    }


def test_delays_follow_the_forecast_model(truth: pd.DataFrame) -> None:
    def ice(t: dt.datetime) -> dict | None:
        return by_number(board_departures(truth, "Bonn Hbf", t)).get("101")

    assert ice(at("07:50"))["delayDeparture"] == 0  # run not started: nothing known
    assert ice(at("08:02", 9))["delayDeparture"] == 0  # origin departure not yet happened
    assert ice(at("08:02", 10))["delayDeparture"] == 2  # floor(2m10s)
    shown = ice(at("08:35"))  # arrival happened at 08:35
    assert (shown["delayArrival"], shown["delayDeparture"]) == (5, 5)
    assert ice(at("08:37", 59))["delayDeparture"] == 5
    assert ice(at("08:38")) is None  # leaves exactly at its true departure
    assert (ice(at("08:11", 59))["platform"], ice(at("08:12"))["platform"]) == ("2", "7")  # 20 min notice
    assert ice(at("05:31")) is None  # beyond the 180 minutes lookahead
    assert ice(at("05:32")) is not None


def test_overdue_train_shows_time_already_past(truth: pd.DataFrame) -> None:
    rows = truth_rows()
    rows[1] = _stop("r1", "101", "ICE 101", "F", 1, "Bonn Hbf", "08:30", "08:32", 40, 41)
    board = by_number(board_departures(make_truth(rows), "Bonn Hbf", at("08:50")))
    assert board["101"]["delayArrival"] == 20 and board["101"]["delayDeparture"] == 18


def test_terminus_cut_short_and_cancelled(truth: pd.DataFrame) -> None:
    cologne = by_number(board_departures(truth, "Köln Hbf", at("08:44")))
    ice = cologne["101"]
    assert ice["scheduledDeparture"] is None and ice["delayDeparture"] is None and ice["via"] == []
    s1 = cologne["39001"]
    assert s1["isCancelled"] == 1 and s1["delayArrival"] == 0 and s1["scheduledDeparture"] is None
    re7 = by_number(board_departures(truth, "Bonn Hbf", at("08:38")))["32557"]
    assert re7["destination"] == "Bonn Hbf" and re7["isCancelled"] == 0
    assert re7["route"][2:] == [{"name": "Düren", "isCancelled": 1}, {"name": "Aachen Hbf", "isCancelled": 1}]
    assert re7["via"] == []
    rb = by_number(board_departures(truth, "Aachen Hbf", at("08:00")))["123"]
    assert rb["route"][1] == {"name": "Düren", "isAdditional": 1} and rb["via"] == ["Düren", "Köln Hbf"]
    assert rb["scheduledArrival"] is None and rb["delayArrival"] is None


def test_messages_carry_the_reasons_known_so_far(truth: pd.DataFrame) -> None:
    before = by_number(board_departures(truth, "Köln Hbf", at("08:34")))["101"]
    assert before["messages"]["delay"] == []
    after = by_number(board_departures(truth, "Köln Hbf", at("08:36")))["101"]
    assert after["messages"]["delay"] == [{"timestamp": "2025-09-01T08:35:00", "text": REASON_TEXTS["43"]}]
    assert after["delayArrival"] == 5


def test_sorted_by_forecast_time_and_filters(truth: pd.DataFrame) -> None:
    board = board_departures(truth, "Aachen Hbf", at("06:30"))
    assert [d["trainNumber"] for d in board] == ["101", "123", "39001"]  # RE 7 (cancelled here) at 09:40
    board = board_departures(truth, "Aachen Hbf", at("06:30"), lookahead_min=240)
    assert [d["trainNumber"] for d in board] == ["101", "123", "39001", "32557"]

    def numbers(**query: str) -> list[str]:
        return [
            d["trainNumber"] for d in board_departures(truth, "Köln Hbf", at("08:00"), parse_filters(query))
        ]

    assert numbers() == ["32557", "123", "39001", "101"]
    assert numbers(admode="dep") == ["32557"]
    assert numbers(admode="arr") == ["123", "39001", "101"]
    assert numbers(limit="2") == ["32557", "123"]
    assert numbers(lines="RE,S 1") == ["32557", "39001"]
    assert numbers(train_types="ICE,RB") == ["123", "101"]
    assert numbers(platforms="1") == ["32557"]
    assert numbers(via="bonn") == ["32557"]
    assert board_departures(truth, "Nowhere", at("08:00")) == []


def noisy_truth(n_runs: int = 60, seed: int = 3) -> pd.DataFrame:
    """Runs of 6 stops, 20 minutes apart, whose delay takes random steps (the forecast cannot know them)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_runs):
        start = at("06:00") + dt.timedelta(minutes=7 * r)
        late = 0.0
        for k in range(6):
            sched = start + dt.timedelta(minutes=20 * k)
            late = max(late + rng.exponential(3.0) - 1.0, -1.0)
            row = _stop(f"n{r}", str(5000 + r), "RE 9", "N", k, f"Station {k}", None, None, None, None)
            row.update(
                {
                    s.SCHEDULED_ARRIVAL: sched if k else None,
                    s.SCHEDULED_DEPARTURE: sched if k < 5 else None,
                    s.TRUE_ARRIVAL: sched + dt.timedelta(minutes=late) if k else None,
                    s.TRUE_DEPARTURE: sched + dt.timedelta(minutes=late + 0.5) if k < 5 else None,
                }
            )
            rows.append(row)
    return make_truth(rows)


def test_board_never_leaks_future_truth() -> None:
    truth = noisy_truth()
    prep = prepare(truth, 180)
    errors = []
    for row in truth[truth[s.STOP_SEQ] == 4].itertuples():
        t = row.scheduled_departure - pd.Timedelta(minutes=60)
        shown = by_number(board_departures(prep, "Station 4", t.to_pydatetime()))[row.train_number]
        true_delay = (row.true_departure - row.scheduled_departure) // pd.Timedelta(minutes=1)
        errors.append(abs(shown["delayDeparture"] - true_delay))
    assert np.mean(errors) >= 1.0


def test_truth_engine_boards_do_not_leak(params) -> None:  # noqa: ANN001 - the conftest fixture
    from pipelines.sources.simulator.source import network_source

    source = network_source(params)
    t = dt.datetime(2025, 9, 1, 14, tzinfo=dt.UTC)
    prep, truth = source.at(t), source.day(DAY)
    errors = []
    for station in ("Köln Hbf", "Frankfurt(Main) Hbf", "Hannover Hbf", "Dortmund Hbf"):
        shown = {d["trainNumber"]: d for d in board_departures(prep, station, t)}
        rows = truth[
            (truth[s.STATION] == station)
            & truth[s.TRAIN_NUMBER].isin(list(shown))
            & ~truth[s.STOP_CANCELLED]
            & truth[s.TRUE_DEPARTURE].notna()
        ]
        rows = rows[
            (rows[s.SCHEDULED_DEPARTURE] - t).between(pd.Timedelta(minutes=50), pd.Timedelta(minutes=70))
        ]
        for row in rows.itertuples():
            true_delay = (row.true_departure - row.scheduled_departure) // pd.Timedelta(minutes=1)
            errors.append(abs(shown[row.train_number]["delayDeparture"] - true_delay))
    assert len(errors) >= 10 and np.mean(errors) >= 1.0
