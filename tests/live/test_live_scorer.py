"""The live scorer against the batch path on the same archive (tests/live/conftest.py: `world`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines import schema as s
from pipelines.live.feed import ArchiveTail
from pipelines.live.scorer import CHAMPION, SHADOW, LiveScorer
from pipelines.serving import stream
from pipelines.storage import read_table
from tests.live.conftest import DAY, END, START

pytestmark = pytest.mark.integration


def test_live_decisions_are_the_batch_departures(world) -> None:
    batch = read_table(world["layout"].day_file("departures", DAY))
    decided = [r for k, r in world["scorer"].detector.decided.items() if k[1] == DAY]
    live = pa.Table.from_pylist(sorted(decided, key=lambda r: r[s.DEPARTURE_ID]), schema=s.DEPARTURES_SCHEMA)
    assert batch.num_rows > 300
    assert live.equals(batch)


def test_every_departure_gets_the_batch_prediction_from_the_champion_and_the_challenger(world) -> None:
    features = read_table(world["layout"].day_file("features", DAY)).to_pandas()
    published = stream.latest(stream.read_day(world["layout"], DAY)).to_pandas()
    for role, loaded in zip((CHAMPION, SHADOW), world["models"], strict=True):
        rows = published[published[s.ROLE] == role].set_index(s.DEPARTURE_ID)
        assert list(rows.index) == list(features[s.DEPARTURE_ID])
        assert (rows[s.MODEL_VERSION] == loaded.version).all()
        assert list(rows[s.PREDICTION]) == list(loaded.model.predict(features))
    rows = published[published[s.ROLE] == CHAMPION].set_index(s.DEPARTURE_ID)
    batch = features.set_index(s.DEPARTURE_ID)
    for column in (s.T_PRED, s.DELAY_AT_PRED, s.PRED_PERSISTENCE, s.PRED_BOARD_FORECAST):
        assert rows[column].equals(batch[column]), column
    assert (rows[s.PUBLISHED_AT] > rows[s.DECIDED_AT]).all()


def test_nothing_is_published_twice_and_a_restart_publishes_nothing_new(world) -> None:
    params, layout = world["params"], world["layout"]
    table = stream.read_day(layout, DAY)
    keys = Counter(zip(*(table[c].to_pylist() for c in (s.DEPARTURE_ID, s.ROLE, s.T_PRED, s.LIVE_STATUS)),
                       strict=True))
    assert max(keys.values()) == 1
    again = LiveScorer(params, layout, lambda: world["models"])
    again.restore([DAY - dt.timedelta(days=1), DAY])
    tail = ArchiveTail([layout.dataset("raw")], START)
    for line in tail.read():
        again.add(line)
    assert again.step(dt.datetime.now(dt.UTC), clock=END).num_rows == 0
    assert again.detector.decided == world["scorer"].detector.decided


def test_what_the_scorer_holds_is_the_open_dates(world) -> None:
    scorer = world["scorer"]
    assert set(scorer.rows.days) <= {DAY - dt.timedelta(days=1), DAY}
    withdrawn = stream.read_day(world["layout"], DAY).filter(pc.equal(
        stream.read_day(world["layout"], DAY)[s.LIVE_STATUS], "withdrawn"))
    assert withdrawn.num_rows == scorer.counts["withdrawn"]


def test_the_monitor_measures_what_was_served_live_on_the_matured_labels(world) -> None:
    from pipelines.datasets import close_time
    from pipelines.monitoring.served import live_performance

    layout = world["layout"]
    served = live_performance(layout, [DAY], close_time(world["params"], DAY))
    features = read_table(layout.day_file("features", DAY)).to_pandas()
    labels = read_table(layout.day_file("labels", DAY)).to_pandas()
    labeled = features.merge(labels[labels[s.LABEL_STATUS] == s.LABELED], on=s.DEPARTURE_ID)
    batch_mae = (world["models"][0].model.predict(labeled) - labeled[s.LABEL]).abs().mean()
    assert served["n_labeled"] == len(labeled) > 100 and served["model_versions"] == ["1"]
    assert served["mae"] == round(float(batch_mae), 6)   # live served exactly what a batch score gives
    assert served["mae_persistence"] is not None and served["skill"] is not None

