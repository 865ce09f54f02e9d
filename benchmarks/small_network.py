"""A few corridors of the simulator's network, for runs of the whole loop that must stay short.

The simulator's network has no size knob, so `simulate`'s truth source is cut to some corridors (the
truth engine and the bulk path stay real; only those corridors' stations are polled).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from pipelines import schema as s
from pipelines.sources.simulator.source import TruthSource

CORRIDORS = ("Berlin S-Bahn", "Berlin-München")


def small_source(full: TruthSource, corridors: tuple[str, ...] = CORRIDORS) -> TruthSource:
    """The `corridors` of the real truth engine's network, and only their stations polled."""
    first = full.day(dt.date(2025, 9, 1))
    names = sorted(first.loc[first[s.CORRIDOR].isin(corridors), s.STATION].unique())

    def day(d: dt.date) -> pd.DataFrame:
        truth = full.day(d)
        return truth[truth[s.CORRIDOR].isin(corridors)].reset_index(drop=True)

    return TruthSource(day, names, full.candidates, full.lookahead_min)


@contextmanager
def small_network() -> Iterator[None]:
    """While open, `simulate` builds the small network (one source per seed and scenario)."""
    from pipelines.sources import simulate

    original, cache = simulate.network_source, {}

    def network_source(params, scenario=None):
        key = (params.simulation.seed, scenario)
        if key not in cache:  # the DAG builds a source per interval; one per scenario keeps runs fast
            cache[key] = small_source(original(params, scenario))
        return cache[key]

    simulate.network_source = network_source
    try:
        yield
    finally:
        simulate.network_source = original
