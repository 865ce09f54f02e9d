"""Stage build_features: point-in-time features, baselines and labels of one closed service date.

Reads `departures/<day>.parquet` and the day's snapshots minus the rows validate_snapshots quarantined;
writes `features/<day>.parquet` (sorted by departure_id), `labels/<day>.parquet` (append-only: an
existing file is never rewritten with other content) and `metrics/build_features/<day>.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import datasets
from pipelines import schema as s
from pipelines.cli_args import add_day_arguments, days_from_args
from pipelines.config import Params
from pipelines.errors import StageError
from pipelines.features.baselines import baseline_errors
from pipelines.features.context import learn_timetable
from pipelines.features.frame import build_frame, prediction_rows, to_table
from pipelines.features.labels import extract_labels, label_errors
from pipelines.storage import Layout, duckdb_view, read_frame, read_table, write_json, write_parquet
from pipelines.timeutil import hours_between, local_midnight_utc

STAGE = "build_features"
TIMETABLE_COLUMNS = (s.STATION, s.SERVICE_DATE, s.TRAIN_NUMBER, s.SCHEDULED_ARRIVAL)


def read_snapshots(params: Params, layout: Layout, day: dt.date) -> pd.DataFrame:
    """Snapshot rows of service date `day`, minus the keys validate_snapshots quarantined."""
    table = datasets.read_service_date_snapshots(params, layout, day)
    try:
        from pipelines.validation.validate_snapshots import quarantined_keys
        bad = quarantined_keys(layout, "validate_snapshots", day)
    except ImportError:  # validation not installed: nothing is quarantined
        bad = None
    if bad is not None and bad.num_rows:
        table = table.join(bad.select(list(s.SNAPSHOT_KEY)), list(s.SNAPSHOT_KEY), join_type="left anti")
    return table.to_pandas()


def read_timetable_rows(params: Params, layout: Layout, day: dt.date) -> pd.DataFrame:
    """Scheduled arrivals shown on the features.timetable_days service dates before `day`."""
    start = local_midnight_utc(day - dt.timedelta(days=params.features.timetable_days))
    end = local_midnight_utc(day)
    files = datasets.hour_files(layout, "snapshots", hours_between(start, end))
    if not files:
        return s.SNAPSHOT_SCHEMA.empty_table().select(list(TIMETABLE_COLUMNS)).to_pandas()
    sql = (f"SELECT {s.STATION}, {s.SERVICE_DATE}, {s.TRAIN_NUMBER}, max({s.SCHEDULED_ARRIVAL}) AS "
           f"{s.SCHEDULED_ARRIVAL} FROM snapshot_files WHERE {s.SCHEDULED_ARRIVAL} IS NOT NULL "
           f"AND {s.SERVICE_DATE} < DATE '{day}' AND {s.POLL_TIME} < ? GROUP BY ALL")
    with duckdb.connect() as con:
        duckdb_view(con, "snapshot_files", files)
        return con.sql(sql, params=[end]).to_arrow_table().to_pandas()


def polled_stations(params: Params, layout: Layout, day: dt.date, snaps: pd.DataFrame) -> set[str]:
    """Stations polled successfully during the service date (a label needs its destination polled)."""
    polls = datasets.read_hours(layout, "polls", datasets.service_date_hours(params, day), s.POLLS_SCHEMA)
    ok = polls.filter(pc.equal(polls[s.POLL_STATUS], "ok"))
    return set(ok[s.STATION].to_pylist()) | set(snaps[s.STATION])


def write_labels_once(labels: pa.Table, path: Path) -> bool:
    """Write the labels partition unless it exists; refuse to change an existing one. True if written."""
    if path.exists():
        if read_table(path).equals(labels):
            return False
        raise StageError(f"{path} exists with other labels: the label table is append-only. Inputs of "
                         f"{path.stem} changed after its labels were published; investigate first")
    write_parquet(labels, path)
    return True


def run(params: Params, layout: Layout, day: dt.date) -> dict[str, Any]:
    """Build features, baselines and labels of closed service date `day`; return paths and counts."""
    dep_file = layout.day_file("departures", day)
    if not dep_file.exists():
        raise StageError(f"{STAGE} {day}: no departures at {dep_file}; "
                         f"run `railcast detect_departures --date {day}` first")
    departures = read_frame(dep_file)
    snaps = read_snapshots(params, layout, day)
    timetable = learn_timetable(read_timetable_rows(params, layout, day))
    frame = build_frame(departures, snaps, timetable, day, params.features)
    live = prediction_rows(departures)
    labels = extract_labels(live, snaps, polled_stations(params, layout, day, snaps), params,
                            datasets.close_time(params, day))
    labels_path = layout.day_file("labels", day)
    # Labels first: when they conflict with published ones, nothing of the day is rewritten.
    written = write_labels_once(pa.Table.from_pandas(labels, schema=s.LABELS_SCHEMA, preserve_index=False),
                                labels_path)
    features_path = write_parquet(to_table(frame), layout.day_file("features", day))
    metrics = {**day_metrics(departures, frame, labels), **baseline_errors(frame, labels)}
    truth_file = layout.day_file("truth", day)
    if truth_file.exists():
        metrics.update(label_errors(labels, live, read_frame(truth_file)))
    metrics_path = write_json(metrics, layout.dataset("metrics") / STAGE / f"{day}.json")
    return {"day": day.isoformat(), "features": str(features_path), "labels": str(labels_path),
            "labels_written": written, "metrics": str(metrics_path), **metrics}


def day_metrics(departures: pd.DataFrame, frame: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Counts that add up: departures = cancelled + featured; featured = labeled + unlabelable."""
    unlabelable = labels[labels[s.LABEL_STATUS] != s.LABELED]
    cancelled = int(departures[s.IS_CANCELLED].fillna(False).sum())
    return {"n_departures": len(departures), "n_cancelled": cancelled,
            "n_featured": len(frame), "n_labeled": int((labels[s.LABEL_STATUS] == s.LABELED).sum()),
            "n_unlabelable": len(unlabelable),
            "unlabelable_by_reason": dict(sorted(Counter(unlabelable[s.LABEL_REASON]).items())),
            "n_board_forecast": int(frame[s.DEST_BOARD_FORECAST].notna().sum()),
            "n_remaining_sched_known": int(frame[s.REMAINING_SCHED_MIN].notna().sum())}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """CLI options: `--date D` or `--start-date D --days N` (closed service dates)."""
    add_day_arguments(parser)


def main(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    """CLI front-end: build each named service date in order."""
    layout = Layout(params, args.home)
    results = [run(params, layout, day) for day in days_from_args(args)]
    return results[0] if len(results) == 1 else {"days": results}
