"""The planned timetable of one service day: runs and their stops, in local minutes after midnight."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.sources.simulator.network import LAST_ARRIVAL_MIN, Network

# After a timetable change every train gets a new number (this offset) and shifted times.
NEW_NUMBER_OFFSET = 5000


def _runs_of_line(line: pd.Series, direction: int, variant: int) -> pd.DataFrame:
    shift = 3 + (int(line["platform_seed"]) % 5) if variant else 0
    minutes = np.asarray(line["minutes"])
    last = min(line["last_departure_min"] + shift, LAST_ARRIVAL_MIN - minutes[-1])
    # The two directions are offset by half a headway, as on real symmetric timetables.
    start = line["first_departure_min"] + shift + direction * (line["headway_min"] // 2)
    t0 = np.arange(start, last + 1, line["headway_min"], dtype=float)
    k = np.arange(len(t0))
    number = line["number_base"] + 2 * k + direction + (NEW_NUMBER_OFFSET if variant else 0)
    runs = pd.DataFrame({"t0": t0, "train_number": number.astype(str), "direction": direction})
    for col in ("line", "category", "train_classes", "corridor", "headway_min", "dwell_min", "regions"):
        runs[col] = [line[col]] * len(runs)
    if line["train_classes"] == "F":
        runs["train"] = line["category"] + " " + runs["train_number"]
    else:
        runs["train"] = line["label_pattern"]
    return runs


def _stops_of_line(line: pd.Series, direction: int, platforms: dict[str, int],
                   index: dict[str, int]) -> pd.DataFrame:
    route = list(line["route"])
    minutes = np.asarray(line["minutes"], dtype=float)
    passing = np.asarray(line["passing"], dtype=bool)
    if direction:
        route, passing = route[::-1], passing[::-1]
        minutes = minutes[-1] - minutes[::-1]
    plat = [str((line["platform_seed"] + 7 * index[s] + direction) % platforms[s] + 1) for s in route]
    return pd.DataFrame({"station": route, "offset": minutes, "passing": passing,
                         "scheduled_platform": plat, "n_platforms": [platforms[s] for s in route]})


def build_timetable(network: Network, variant: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, stops) of one day; variant 1 is the timetable after a change. Times are local minutes."""
    platforms = dict(zip(network.stations["name"], network.stations["platforms"], strict=True))
    index = {name: i for i, name in enumerate(network.stations["name"])}
    keep = "new" if variant else "old"
    run_parts, stop_parts = [], []
    for _, line in network.lines.iterrows():
        if line["variant"] not in ("all", keep):
            continue
        for direction in (0, 1):
            runs = _runs_of_line(line, direction, variant)
            stops = _stops_of_line(line, direction, platforms, index)
            runs["n_stops"] = len(stops)
            run_parts.append(runs)
            stop_parts.append(stops.assign(_key=len(stop_parts)))
    runs = pd.concat(run_parts, ignore_index=True)
    runs["run"] = np.arange(len(runs))
    runs["_key"] = np.repeat(np.arange(len(run_parts)), [len(r) for r in run_parts])
    return runs, _expand_stops(runs, pd.concat(stop_parts, ignore_index=True))


def _expand_stops(runs: pd.DataFrame, templates: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, route station) with planned arrival/departure minutes."""
    starts = templates.groupby("_key").indices
    idx = np.concatenate([starts[k] for k in runs["_key"]])
    stops = templates.iloc[idx].reset_index(drop=True).drop(columns="_key")
    run = np.repeat(runs["run"].to_numpy(), runs["n_stops"].to_numpy())
    stops.insert(0, "run", run)
    stops["stop_seq"] = stops.groupby("run").cumcount()
    t0 = runs["t0"].to_numpy()[run]
    dwell = np.where(stops["passing"], 0.0, runs["dwell_min"].to_numpy()[run])
    first = stops["stop_seq"].to_numpy() == 0
    last = stops["stop_seq"].to_numpy() == runs["n_stops"].to_numpy()[run] - 1
    dep = t0 + stops["offset"].to_numpy()
    stops["sched_arr"] = np.where(first, np.nan, np.where(last, dep, dep - dwell))
    stops["sched_dep"] = np.where(last, np.nan, dep)
    stops["is_first"], stops["is_last"] = first, last
    return stops
