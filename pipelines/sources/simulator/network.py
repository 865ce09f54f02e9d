"""The simulated rail network: stations, lines, corridors and the station-name lookup."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.sources.simulator.network_data import LINES, STATIONS

# Service day 04:00-03:59 local: the last arrival stays before 01:30 so no run crosses 04:00.
LAST_ARRIVAL_MIN = 25 * 60 + 30
FIRST_DEPARTURE_MIN = 4 * 60 + 30
DWELL_MIN = {"ICE": 2.0, "IC": 2.0, "RE": 1.0, "RB": 1.0, "S": 0.5}


@dataclass(frozen=True, eq=False)
class Network:
    """Stations (name, eva, ds100, region, platforms) and lines with their routes and service pattern."""

    stations: pd.DataFrame
    lines: pd.DataFrame

    def station_names(self) -> list[str]:
        """All station names, sorted."""
        return sorted(self.stations["name"])

    def candidates(self, query: str) -> list[str]:
        """Station names matching `query` exactly (name, EVA, DS100; case-insensitive) or else by prefix."""
        q = str(query).strip().casefold()
        if not q:
            return []
        st = self.stations
        exact = st[(st["name"].str.casefold() == q) | (st["eva"] == q) | (st["ds100"].str.casefold() == q)]
        if len(exact):
            return sorted(exact["name"])
        return sorted(st.loc[st["name"].str.casefold().str.startswith(q), "name"])

    def lookup(self, query: str) -> str | None:
        """The canonical station name for a name, EVA number or DS100 code; None if unknown or ambiguous."""
        found = self.candidates(query)
        return found[0] if len(found) == 1 else None

    def region_of(self) -> dict[str, str]:
        """Station name -> region."""
        return dict(zip(self.stations["name"], self.stations["region"], strict=True))


def _split_route(text: str) -> list[tuple[str, float, bool]]:
    """'A b:0 C:12 ~D:30' -> [(name, minute, passes_without_stop)]; names may contain spaces."""
    out: list[tuple[str, float, bool]] = []
    rest = text.strip()
    while rest:
        colon = rest.index(":")
        name = rest[:colon]
        tail = rest[colon + 1:]
        minute, _, rest = tail.partition(" ")
        out.append((name.lstrip("~"), float(minute), name.startswith("~")))
        rest = rest.strip()
    return out


def _lines_frame(known: set[str], regions: dict[str, str]) -> pd.DataFrame:
    rows = []
    for line, cat, classes, corridor, headway, first, last, base, variant, route in LINES:
        stops = _split_route(route)
        unknown = [s for s, _, _ in stops if s not in known]
        if unknown:
            raise ValueError(f"line {line}: unknown stations {unknown}")
        minutes = tuple(m for _, m, _ in stops)
        last = min(last, int(LAST_ARRIVAL_MIN - minutes[-1]))
        rows.append({
            "line": line, "category": cat, "train_classes": classes, "corridor": corridor,
            # Long-distance trains carry their number in the label, regional ones the line label.
            "label_pattern": f"{cat} {{number}}" if classes == "F" else line,
            "route": tuple(s for s, _, _ in stops), "minutes": minutes,
            "passing": tuple(p for _, _, p in stops), "headway_min": headway,
            "first_departure_min": max(first, FIRST_DEPARTURE_MIN), "last_departure_min": last,
            "number_base": base, "variant": variant,
            "regions": tuple(sorted({regions[s] for s, _, _ in stops})),
            "dwell_min": DWELL_MIN[cat],
        })
    return pd.DataFrame(rows)


def build_network(seed: int = 0, corridors: Iterable[str] = ()) -> Network:
    """The fixed network; `seed` only shuffles which platform each line uses at a station. With
    `corridors`, only their lines and the stations they serve (a smaller network for long benchmarks)."""
    stations = pd.DataFrame(STATIONS, columns=["name", "eva", "ds100", "region", "platforms"])
    if stations["name"].duplicated().any() or stations["eva"].duplicated().any():
        raise ValueError("station names and EVA numbers must be unique")
    regions = dict(zip(stations["name"], stations["region"], strict=True))
    lines = _lines_frame(set(stations["name"]), regions)
    rng = np.random.default_rng(seed)
    lines["platform_seed"] = rng.integers(0, 1_000_000, len(lines))
    if corridors := sorted(set(corridors)):
        if unknown := sorted(set(corridors) - set(lines["corridor"])):
            raise ValueError(f"unknown corridors {unknown} in simulation.corridors; the network has "
                             f"{sorted(set(lines['corridor']))}")
        lines = lines[lines["corridor"].isin(corridors)].reset_index(drop=True)
        served = {name for route in lines["route"] for name in route}
        stations = stations[stations["name"].isin(served)].reset_index(drop=True)
    return Network(stations=stations, lines=lines)
