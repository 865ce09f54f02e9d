"""The schedule table: when each daily DAG runs, the assets that chain them, the stage order per DAG.

The DAG files, the in-process loop and the demo all read this one table. DAG files import it at parse
time, so it imports only the standard library.
"""

from __future__ import annotations

import datetime as dt

TIMEZONE = "Europe/Berlin"
DAG_IDS = ("ingest", "build_dataset", "monitor", "retrain", "score")

# Berlin wall-clock time of each daily DAG: build_dataset with ingest (then on the snapshots asset),
# score after the night's dates closed, monitor after score. `retrain` has no time: the drift asset.
DAILY_AT: dict[str, dt.time] = {
    "ingest": dt.time(0),
    "build_dataset": dt.time(0),
    "score": dt.time(3),
    "monitor": dt.time(4),
}

ASSET_SNAPSHOTS = "railcast://snapshots"
ASSET_FEATURES = "railcast://features"
ASSET_DRIFT = "railcast://drift"
DRIFT_ALIAS = "railcast-drift"
REGISTRY_POOL = "registry"       # one slot: alias moves and DVC writers run one at a time

SOURCE_SIMULATOR = "simulator"
SOURCE_RAW = "raw"
BUILD_STAGES = ("validate_snapshots", "detect_departures", "build_features", "validate_features")
RETRAIN_STAGES = ("train", "evaluate", "promote")
CATCH_UP_DAYS = 7                # build_dataset also builds unbuilt dates closed this long before its window
INGEST_DEADLINE_H = 6   # a date still missing hours this long after the ingest run after its close: gap alert


def cron(dag_id: str) -> str:
    """The cron expression of a daily DAG (minute hour * * *, Berlin time)."""
    at = DAILY_AT[dag_id]
    return f"{at.minute} {at.hour} * * *"
