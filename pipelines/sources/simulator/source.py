"""Where boards get their truth: days simulated lazily and cached, and the station-name lookup."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

import pandas as pd

from pipelines.config import Params
from pipelines.sources.simulator.forecast import Prepared, prepare
from pipelines.timeutil import BERLIN, UTC

CACHED_WINDOWS = 8


def board_days(t: dt.datetime, lookahead_min: int) -> tuple[dt.date, ...]:
    """Service dates whose stops can be on a board at `t`: lists reach `lookahead` ahead, and a run of the
    day before (scheduled to end before 04:00) stays listed while it is late, allowed up to 8 hours.
    """
    first = (t.astimezone(BERLIN) - dt.timedelta(hours=12)).date()
    last = (t.astimezone(BERLIN) + dt.timedelta(minutes=lookahead_min)).date()
    return tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1))


class TruthSource:
    """Truth by service date (generated on first use, kept), prepared boards per window of days.

    `truth_fn(day) -> DataFrame` makes a day of truth; `names` are all station names;
    `candidates(query) -> [names]` resolves a name, EVA number or DS100 code.
    """

    def __init__(
        self,
        truth_fn: Callable[[dt.date], pd.DataFrame],
        names: Iterable[str],
        candidates: Callable[[str], list[str]],
        lookahead_min: int,
    ) -> None:
        self._truth_fn = truth_fn
        self.names = sorted(names)
        self.candidates = candidates
        self.lookahead_min = lookahead_min
        self._days: dict[dt.date, pd.DataFrame] = {}
        self._windows: OrderedDict[tuple[dt.date, ...], Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def day(self, day: dt.date) -> pd.DataFrame:
        """Truth of one service date."""
        with self._lock:
            if day not in self._days:
                self._days[day] = self._truth_fn(day)
            return self._days[day]

    def truth(self, days: Iterable[dt.date]) -> pd.DataFrame:
        """Truth of several service dates, concatenated."""
        frames = [f for d in days if len(f := self.day(d))]
        return pd.concat(frames, ignore_index=True) if frames else self.day(next(iter(days)))

    def prepared(self, days: tuple[dt.date, ...]) -> Prepared:
        """Board index over `days` (the last few windows are kept)."""
        with self._lock:
            if days in self._windows:
                self._windows.move_to_end(days)
                return self._windows[days]
        prep = prepare(self.truth(days), self.lookahead_min)
        with self._lock:
            self._windows[days] = prep
            while len(self._windows) > CACHED_WINDOWS:
                self._windows.popitem(last=False)
        return prep

    def at(self, t: dt.datetime) -> Prepared:
        """Board index that covers instant `t`."""
        return self.prepared(board_days(t.astimezone(UTC), self.lookahead_min))


def network_source(params: Params, scenario: str | None = None) -> TruthSource:
    """The truth engine's network and days, for the server and the bulk path."""
    from pipelines.config import scenario as scenario_of
    from pipelines.sources.simulator.network import build_network
    from pipelines.sources.simulator.truth import simulate_day

    network = build_network(seed=params.simulation.seed, corridors=params.simulation.corridors)
    chosen = scenario_of(params, scenario)

    def truth_fn(day: dt.date) -> pd.DataFrame:
        return simulate_day(network, params, day, chosen)

    return TruthSource(
        truth_fn, network.station_names(), network.candidates, params.simulation.board_lookahead_min
    )


def frame_source(truth: pd.DataFrame, lookahead_min: int, names: Iterable[str] | None = None) -> TruthSource:
    """A source over a fixed truth frame (tests): stations match by exact name or name prefix."""
    from pipelines import schema as s

    by_day = {d: g.reset_index(drop=True) for d, g in truth.groupby(s.SERVICE_DATE)}
    all_names = sorted(set(names or truth[s.STATION].unique()))

    def candidates(query: str) -> list[str]:
        q = query.strip().casefold()
        exact = [n for n in all_names if n.casefold() == q]
        return exact or [n for n in all_names if q and n.casefold().startswith(q)]

    return TruthSource(lambda day: by_day.get(day, truth.iloc[0:0]), all_names, candidates, lookahead_min)
