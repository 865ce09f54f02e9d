"""Statistics of simulated ground truth, against the real delay statistics of docs/RAIL_FACTS.md section 3."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines import schema as s

BIN_EDGES = (-np.inf, 0, 5, 10, 15, 30, 60, np.inf)
BIN_LABELS = ("<=0", "0-5", "5-10", "10-15", "15-30", "30-60", ">60")
# Share of arrivals per bin, percent (docs/RAIL_FACTS.md section 3; IC is compared with the ICE row).
TARGET_BINS = {
    "ICE": (22.5, 31.5, 13.0, 7.9, 13.0, 8.8, 3.3),
    "RE": (32.4, 40.5, 12.1, 5.8, 6.5, 2.3, 0.3),
    "RB": (38.4, 44.5, 9.5, 3.3, 3.3, 0.9, 0.1),
    "S": (32.3, 55.3, 8.0, 2.4, 1.7, 0.3, 0.0),
}
TARGET_CANCEL = {"ICE": (5.0, 11.0), "IC": (5.0, 11.0), "RE": (3.0, 5.0), "RB": (3.0, 5.0), "S": (3.0, 5.0)}
TARGET_GROWTH = {"ICE": (2.0, 4.0), "IC": (2.0, 4.0), "RE": (2.0, 4.0), "S": (0.8, 2.6)}


def arrival_delays(truth: pd.DataFrame) -> pd.DataFrame:
    """Non-cancelled arrivals with their delay in whole minutes (floored, as a board shows it)."""
    ok = truth[s.SCHEDULED_ARRIVAL].notna() & truth[s.TRUE_ARRIVAL].notna() & ~truth[s.STOP_CANCELLED]
    arr = truth.loc[ok]
    minutes = (arr[s.TRUE_ARRIVAL] - arr[s.SCHEDULED_ARRIVAL]).dt.total_seconds() / 60.0
    local = arr[s.SCHEDULED_ARRIVAL].dt.tz_convert(s.TZ_LOCAL)
    return pd.DataFrame({s.CATEGORY: arr[s.CATEGORY].to_numpy(), "delay": np.floor(minutes.to_numpy()),
                         "hour": local.dt.hour.to_numpy(), "weekday": local.dt.weekday.to_numpy()})


def delay_bins(truth: pd.DataFrame) -> pd.DataFrame:
    """Percent of arrivals per delay bin and class (rows ICE incl. IC, RE, RB, S; columns BIN_LABELS)."""
    arr = arrival_delays(truth)
    cls = arr[s.CATEGORY].replace({"IC": "ICE"})
    binned = pd.cut(arr["delay"], BIN_EDGES, labels=BIN_LABELS, right=True)
    table = pd.crosstab(cls, binned, normalize="index") * 100.0
    return table.reindex(columns=list(BIN_LABELS), fill_value=0.0)


def bin_errors(truth: pd.DataFrame) -> pd.DataFrame:
    """Simulated minus target bin shares, percentage points, per class."""
    sim = delay_bins(truth)
    target = pd.DataFrame(TARGET_BINS, index=list(BIN_LABELS)).T
    return (sim - target).dropna(how="all")


def cancellation_rates(truth: pd.DataFrame) -> pd.Series:
    """Percent of planned stops cancelled, per class (additional stops excluded)."""
    planned = truth[~truth[s.IS_ADDITIONAL]]
    return planned.groupby(s.CATEGORY)[s.STOP_CANCELLED].mean() * 100.0


def growth_per_hour(truth: pd.DataFrame) -> pd.Series:
    """Mean delay gained per scheduled hour of travel, origin departure to last reached arrival, per class.

    Expects rows in simulate_day order (days may be concatenated, even across seeds).
    """
    seq = truth[s.STOP_SEQ].to_numpy()
    run_id = truth[s.RUN_ID].to_numpy()
    # A run is a block of consecutive rows with one run_id and rising stop_seq.
    new_run = np.r_[True, (run_id[1:] != run_id[:-1]) | (seq[1:] <= seq[:-1])]
    frame = pd.DataFrame({
        "run": np.cumsum(new_run), "cat": truth[s.CATEGORY].to_numpy(),
        "live": ~truth[s.STOP_CANCELLED].to_numpy(),
        "dep": (truth[s.TRUE_DEPARTURE] - truth[s.SCHEDULED_DEPARTURE]).dt.total_seconds().to_numpy() / 60.0,
        "arr": (truth[s.TRUE_ARRIVAL] - truth[s.SCHEDULED_ARRIVAL]).dt.total_seconds().to_numpy() / 60.0,
        "t_dep": truth[s.SCHEDULED_DEPARTURE].values, "t_arr": truth[s.SCHEDULED_ARRIVAL].values,
    })
    origin = frame[new_run & frame["live"]].set_index("run")
    last = frame[frame["live"] & frame["arr"].notna()].drop_duplicates("run", keep="last").set_index("run")
    both = origin.join(last, rsuffix="_end", how="inner")
    hours = (both["t_arr_end"] - both["t_dep"]) / np.timedelta64(1, "h")
    keep = hours > 0.5
    per_class = pd.DataFrame({"g": both["arr_end"] - both["dep"], "h": hours, "cat": both["cat"]})[keep]
    sums = per_class.groupby("cat")[["g", "h"]].sum()
    return sums["g"] / sums["h"]


def hourly_means(truth: pd.DataFrame, category: str = "ICE") -> pd.Series:
    """Mean arrival delay by local hour for one class (IC counted with ICE)."""
    arr = arrival_delays(truth)
    cls = arr[s.CATEGORY].replace({"IC": "ICE"})
    return arr[cls == category].groupby("hour")["delay"].mean()


def weekday_means(truth: pd.DataFrame) -> pd.Series:
    """Mean arrival delay by weekday of the service date (0 = Monday), all classes."""
    arr = truth[truth[s.SCHEDULED_ARRIVAL].notna() & ~truth[s.STOP_CANCELLED]]
    minutes = (arr[s.TRUE_ARRIVAL] - arr[s.SCHEDULED_ARRIVAL]).dt.total_seconds() / 60.0
    weekday = pd.to_datetime(arr[s.SERVICE_DATE]).dt.weekday
    return minutes.groupby(weekday.to_numpy()).mean()


def summary(truth: pd.DataFrame) -> dict:
    """All calibration statistics as a JSON-able dict (used by tests and the simulator report)."""
    return {
        "delay_bins": delay_bins(truth).round(2).to_dict(orient="index"),
        "max_bin_error_pp": float(bin_errors(truth).abs().max().max()),
        "cancellation_pct": cancellation_rates(truth).round(2).to_dict(),
        "growth_min_per_hour": growth_per_hour(truth).round(2).to_dict(),
        "ice_hourly_mean": hourly_means(truth).round(2).to_dict(),
        "weekday_mean": weekday_means(truth).round(2).to_dict(),
    }
