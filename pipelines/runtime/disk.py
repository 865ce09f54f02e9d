"""Free disk space watched by the daily ingest run: an alert while a local data folder runs low.

A full disk does not stop the poller (it holds polls in memory, `sources.dbf.backlog`), but the backlog
is bounded and the stages fail to write; this says so a day ahead, not when polls start to be lost.
"""

from __future__ import annotations

from typing import Any

from pipelines.runtime.alerts import Alert, raise_alert


def disk_alert(low: dict[str, float], min_free_mb: float, when: Any) -> Alert:
    """Free space under a data folder fell below ingest.min_free_mb: one alert a day while it lasts."""
    places = "\n".join(f"  {path}: {free:.0f} MB free" for path, free in sorted(low.items()))
    body = (f"Less than ingest.min_free_mb ({min_free_mb:.0f} MB) is free under:\n{places}\n\n"
            f"When the disk fills, the poller keeps polling and holds what it cannot write in memory (a "
            f"bounded backlog: past it the oldest polls are lost, and logged), and stages fail. Free space, "
            f"or move RAILCAST_HOME or the data root (RAILCAST_DATA_URI) to a larger volume.\n")
    return Alert(f"disk|{when:%Y-%m-%d}|{'|'.join(sorted(low))}", "disk space low", body, when)


def check_disk(params: Any, layout: Any, when: Any) -> dict[str, float]:
    """Raise the disk alert when RAILCAST_HOME or a local data root is low; returns {folder: MB free}."""
    from pipelines.storage.space import low_space

    low = low_space([layout.root, layout.data], params.ingest.min_free_mb)
    if low:
        raise_alert(params, layout, disk_alert(low, params.ingest.min_free_mb, when))
    return low
