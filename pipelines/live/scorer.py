"""The live scorer: departures decided while the trains run, predicted by the champion, published.

Polls go to the incremental detector and to a row store per open service date. Each `step` takes the
decisions the detector can make now, builds their features with the batch function (`build_frame`) on
the rows it needs (the departures' own and destination rows, and the recent window every context
feature reads), predicts with the champion (the challenger in shadow, when there is one) and appends
the rows to the live stream. A departure is published once per decision (`published` survives a restart
through the stream); a revision or withdrawal is published as a new row.

Not applied live: the snapshot gate's row quarantine (Great Expectations runs per closed service date),
so a row the gate will quarantine can still shape a live feature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s
from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.detection.sessionize import INPUT_COLUMNS
from pipelines.features.build_features import read_timetable_rows
from pipelines.features.context import learn_timetable
from pipelines.features.frame import build_frame
from pipelines.live.detector import LiveDetector
from pipelines.live.feed import Normalizer
from pipelines.live.rowstore import RowStore
from pipelines.serving import stream
from pipelines.storage import Layout

CHAMPION, SHADOW = "champion", "shadow"


def prediction_id(departure_id: str, version: str, t_pred: dt.datetime) -> str:
    """Stable id of one live prediction: the departure, the model version and the decision's t_pred."""
    return hashlib.sha1(f"{departure_id}|{version}|{t_pred.isoformat()}".encode()).hexdigest()[:16]


class LiveScorer:
    """Feed archive lines with `add`, publish with `step`; `models()` gives (champion, challenger)."""

    def __init__(self, params: Params, layout: Layout, models: Callable[[], tuple[Any, Any]]) -> None:
        det = params.detection
        self.params, self.layout, self.models = params, layout, models
        self.detector = LiveDetector(dt.timedelta(minutes=det.gap_min), dt.timedelta(minutes=det.grace_min),
                                     partial(close_time, params))
        self.normalizer = Normalizer(params.ingest)
        self.rows = RowStore()
        self.timetables: dict[dt.date, pd.DataFrame] = {}
        self.published: dict[tuple[str, str], tuple] = {}   # (departure, role) -> (t_pred, status, day)
        self.counts: Counter = Counter()
        self.appended: Counter = Counter()      # stream files written per day since the last merge
        self.last_decided: dt.datetime | None = None

    def restore(self, days: list[dt.date]) -> None:
        """Remember what the stream already holds for `days` (after a restart nothing goes out twice)."""
        for day in days:
            for row in stream.latest(stream.read_day(self.layout, day), withdrawn=True).to_pylist():
                self._remember(row)
                if row[s.LIVE_STATUS] == "live":   # the detector can still revise or withdraw it
                    self.detector.adopt([{**row, s.LAST_SEEN: row[s.T_PRED]}])

    def add(self, line: dict[str, Any]) -> None:
        """One archive line: a poll for the detector, its rows for the features of its service dates."""
        poll = self.normalizer.poll(line)
        if poll is None:
            return
        self.counts["polls"] += 1
        shown = poll.rows.select(list(INPUT_COLUMNS)).to_pylist()   # what detection reads
        self.detector.add_poll(poll.station, poll.poll_time, poll.ok, shown)
        if poll.rows.num_rows == 0:
            return
        for day in set(poll.rows[s.SERVICE_DATE].to_pylist()):
            if close_time(self.params, day) > poll.poll_time:
                day_rows = poll.rows.filter(pc.equal(poll.rows[s.SERVICE_DATE], pa.scalar(day)))
                self.rows.add(day, day_rows, self.detector.clock)

    def step(self, now: dt.datetime, clock: dt.datetime | None = None) -> pa.Table:
        """Decide, predict and publish what the clock (default: the newest poll instant) allows; returns
        the rows published. `now` is the wall clock, stamped as published_at."""
        decided = self.detector.decide(clock)
        out = [self._withdrawal(row, role, now) for row in self.detector.take_withdrawn()
               for role in (CHAMPION, SHADOW) if self._live(row[s.DEPARTURE_ID], role)]
        by_day: dict[dt.date, list[dict]] = defaultdict(list)
        for row in decided:
            by_day[row[s.SERVICE_DATE]].append(row)
            self.last_decided = max(self.last_decided or row[s.DECIDED_AT], row[s.DECIDED_AT])
        champion, challenger = self.models()
        for day, rows in sorted(by_day.items()):
            frame = self.features(day, rows)
            if champion is None:
                self.counts["unscored"] += len(frame)
                continue
            out += self._predictions(frame, rows, champion, CHAMPION, now)
            if challenger is not None and challenger.version != champion.version:
                out += self._predictions(frame, rows, challenger, SHADOW, now)
        self._forget_closed()
        table = pa.Table.from_pylist(out, schema=s.LIVE_SCHEMA)
        if table.num_rows:
            for path in stream.append(self.layout, table, now):
                self.appended[path.parent.name] += 1
                if self.appended[path.parent.name] >= stream.MERGE_AT:
                    self.appended[path.parent.name] = 0
                    stream.merge_small_files(self.layout, dt.date.fromisoformat(path.parent.name))
            for row in out:
                self._remember(row)
            self.counts["published"] += table.num_rows
        return table

    def features(self, day: dt.date, decided: list[dict]) -> pd.DataFrame:
        """The batch features of decided departures of `day`, from the rows they read."""
        departures = pa.Table.from_pylist(decided, schema=s.DEPARTURES_SCHEMA).to_pandas()
        if day not in self.timetables:
            self.timetables[day] = learn_timetable(read_timetable_rows(self.params, self.layout, day))
        window = dt.timedelta(minutes=self.params.features.recent_window_min)
        return build_frame(departures, self.rows.rows_for(day, departures, window), self.timetables[day],
                           day, self.params.features)

    def _predictions(self, frame: pd.DataFrame, decided: list[dict], loaded: Any, role: str,
                     now: dt.datetime) -> list[dict]:
        """Stream rows of one model's predictions for `frame`, minus those already published."""
        by_id = {r[s.DEPARTURE_ID]: r for r in decided}
        keep = [self._live(d, role) != t for d, t in zip(frame[s.DEPARTURE_ID], frame[s.T_PRED], strict=True)]
        frame = frame[np.array(keep, dtype=bool)]
        if frame.empty:
            return []
        predicted = loaded.model.predict(frame)
        rows = []
        for (_, f), value in zip(frame.iterrows(), predicted, strict=True):
            dep = by_id[f[s.DEPARTURE_ID]]
            sched = f[s.REMAINING_SCHED_MIN]
            arrival = None if pd.isna(sched) else (
                dep[s.SCHEDULED_DEPARTURE] + dt.timedelta(minutes=float(sched) + float(value)))
            pid = prediction_id(dep[s.DEPARTURE_ID], loaded.version, dep[s.LAST_SEEN])
            rows.append({**self._identity(dep, now), s.ROLE: role, s.MODEL_VERSION: loaded.version,
                         s.PREDICTION_ID: pid,
                         s.PREDICTION: float(value), s.PREDICTED_ARRIVAL: arrival,
                         s.DELAY_AT_PRED: _float(f[s.DELAY_AT_PRED]),
                         s.PRED_PERSISTENCE: _float(f[s.PRED_PERSISTENCE]),
                         s.PRED_BOARD_FORECAST: _float(f[s.PRED_BOARD_FORECAST]), s.LIVE_STATUS: "live"})
        self.counts[f"predicted_{role}"] += len(rows)
        return rows

    def _remember(self, row: dict) -> None:
        self.published[(row[s.DEPARTURE_ID], row[s.ROLE])] = (row[s.T_PRED], row[s.LIVE_STATUS],
                                                               row[s.SERVICE_DATE])

    def _live(self, departure_id: str, role: str) -> dt.datetime | None:
        """t_pred of the departure's live prediction in the stream, None if none is live."""
        t_pred, status, _ = self.published.get((departure_id, role), (None, None, None))
        return t_pred if status == "live" else None

    def _withdrawal(self, dep: dict, role: str, now: dt.datetime) -> dict:
        self.counts["withdrawn"] += 1
        return {**self._identity(dep, now), s.ROLE: role, s.MODEL_VERSION: None, s.LIVE_STATUS: "withdrawn",
                s.PREDICTION_ID: prediction_id(dep[s.DEPARTURE_ID], "withdrawn", dep[s.LAST_SEEN])}

    @staticmethod
    def _identity(dep: dict, now: dt.datetime) -> dict:
        keep = (s.DEPARTURE_ID, s.SERVICE_DATE, s.STATION, s.TRAIN_NUMBER, s.TRAIN, s.PLANNED_DESTINATION,
                s.SCHEDULED_DEPARTURE, s.DECIDED_AT)
        return {**{c: dep[c] for c in keep}, s.T_PRED: dep[s.LAST_SEEN], s.PUBLISHED_AT: now}

    def _forget_closed(self) -> None:
        """Rows and timetables of service dates closed at the detector's clock (bounded memory)."""
        clock = self.detector.clock
        if clock is None:
            return
        closed = {d for d in {*self.rows.days, *self.timetables} if close_time(self.params, d) <= clock}
        for day in closed:
            self.rows.forget(day)
            self.timetables.pop(day, None)
        if closed:
            self.published = {k: v for k, v in self.published.items() if v[2] not in closed}
        self.normalizer.forget_before(clock - dt.timedelta(hours=2))


def _float(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
