"""Training rows: the features of closed service dates joined with the labels known at an instant.

The as-of rule lives here once: a label counts at `as_of` when its status is labeled and its
`labeled_at` is at or before `as_of` (`known_labels`, and the same rule in the DuckDB join).
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import pyarrow as pa

from pipelines import schema as s
from pipelines.config import Params
from pipelines.datasets import FEATURES_GATE, closed_days, gate_refusal, quarantined
from pipelines.storage import Layout, duckdb_view

log = logging.getLogger(__name__)


def known_labels(labels: pd.DataFrame, as_of: dt.datetime) -> pd.DataFrame:
    """The rows of a labels frame that were labeled and known at as_of."""
    known = (labels[s.LABEL_STATUS] == s.LABELED) & (labels[s.LABELED_AT] <= pd.Timestamp(as_of))
    return labels.loc[known]


_TRAINING_JOIN = """
SELECT {select} FROM features f
JOIN (SELECT {departure_id}, {label}, {labeled_at} FROM labels
      WHERE CAST({labeled_at} AS TIMESTAMPTZ) <= $as_of AND {status} = '{labeled}') l
USING ({departure_id})
WHERE f.{departure_id} NOT IN (SELECT {departure_id} FROM quarantined)
ORDER BY f.{t_pred}, f.{departure_id}
"""
_FEATURE_COUNTS = f"""
SELECT count(*), count(*) FILTER (WHERE {s.DEPARTURE_ID} NOT IN (SELECT {s.DEPARTURE_ID} FROM quarantined))
FROM features
"""
_LABEL_COUNTS = f"""
SELECT count(*) FROM labels
WHERE CAST({s.LABELED_AT} AS TIMESTAMPTZ) <= $as_of AND {s.LABEL_STATUS} = '{s.UNLABELABLE}'
"""


def _training_join(columns: list[str] | None) -> str:
    """The as-of join of features and labels, every column or just `columns`."""
    from_labels = (s.LABEL, s.LABELED_AT)
    select = (f"f.*, l.{s.LABEL}, l.{s.LABELED_AT}" if columns is None
              else ", ".join(f"l.{c}" if c in from_labels else f"f.{c}" for c in columns))
    return _TRAINING_JOIN.format(select=select, departure_id=s.DEPARTURE_ID, label=s.LABEL,
                                 labeled_at=s.LABELED_AT, status=s.LABEL_STATUS, labeled=s.LABELED,
                                 t_pred=s.T_PRED)


def read_training_table(params: Params, layout: Layout, days: list[dt.date], as_of: dt.datetime,
                        columns: list[str] | None = None) -> tuple[pa.Table, dict[str, int]]:
    """Features of the `days` closed by as_of, inner-joined with the labels known (and labeled) at as_of.

    Rows come sorted by (t_pred, departure_id); `columns` narrows the result (default: every feature
    column plus label and labeled_at). One DuckDB pass reads, joins and sorts (about 5x faster than the
    same in pandas at a million rows). Also returns the counts of rows kept and dropped, which it logs.
    """
    import duckdb

    closed = [d for d in closed_days(params, days, as_of) if layout.day_file("features", d).exists()]
    refused = {d: why for d in closed if (why := gate_refusal(layout, FEATURES_GATE, d))}
    usable = [d for d in closed if d not in refused]
    for day, why in refused.items():
        log.warning("training without %s: %s", day, why)
    feats = [layout.day_file("features", d) for d in usable]
    labs = [p for d in usable if (p := layout.day_file("labels", d)).exists()]
    set_aside = sorted(set().union(*(quarantined(layout, FEATURES_GATE, d) for d in usable)))
    con = duckdb.connect()
    try:
        con.register("quarantined", pa.table({s.DEPARTURE_ID: pa.array(set_aside, pa.string())}))
        if feats:
            duckdb_view(con, "features", feats)
        if labs:
            duckdb_view(con, "labels", labs)
        n_all, n_features = con.execute(_FEATURE_COUNTS).fetchall()[0] if feats else (0, 0)
        n_unlabelable = con.execute(_LABEL_COUNTS, {"as_of": as_of}).fetchall()[0][0] if labs else 0
        table = con.sql(_training_join(columns), params={"as_of": as_of}).to_arrow_table() \
            if feats and labs else s.TRAINING_SCHEMA.empty_table()
    finally:
        con.close()
    if columns is not None:
        table = table.select(columns)
    # The stored types (older partitions may lack a newer column: it stays missing, as with pandas).
    known = set(s.TRAINING_SCHEMA.names)
    table = table.cast(pa.schema([s.TRAINING_SCHEMA.field(f.name) if f.name in known else f
                                  for f in table.schema]))
    counts = {"features": n_features, "labeled": table.num_rows, "unlabelable": n_unlabelable,
              "quarantined": n_all - n_features, "refused_days": len(refused),
              "not_yet_known": n_features - table.num_rows - n_unlabelable}
    log.info("training frame as of %s: %s", as_of.isoformat(), counts)
    return table, counts


def read_training_frame(params: Params, layout: Layout, days: list[dt.date],
                        as_of: dt.datetime) -> pd.DataFrame:
    """read_training_table as a pandas frame, every column; the counts in `frame.attrs["counts"]`."""
    table, counts = read_training_table(params, layout, days, as_of)
    frame = table.to_pandas()
    frame.attrs["counts"] = counts
    return frame
