"""Column names and Arrow schemas of every dataset: the one place a column is named."""

from __future__ import annotations

import pyarrow as pa

TZ_LOCAL = "Europe/Berlin"
TS = pa.timestamp("us", tz="UTC")

# --- snapshots: one row per (poll, train on the board) ------------------------------------------
STATION = "station"                  # the station name the client asked for
POLL_TIME = "poll_time"              # client's poll instant, UTC
SERVICE_DATE = "service_date"        # Europe/Berlin calendar date of the train run
TRAIN = "train"                      # line label as shown, e.g. "RE 7", "ICE 1555"
CATEGORY = "category"                # ICE, IC, RE, RB, S or OTHER (prefix of TRAIN)
TRAIN_NUMBER = "train_number"
TRAIN_CLASSES = "train_classes"      # e.g. "F", "N", "S", "ND" (joined characters)
DESTINATION = "destination"          # realtime last station
PLATFORM = "platform"
SCHEDULED_PLATFORM = "scheduled_platform"
SCHEDULED_ARRIVAL = "scheduled_arrival"      # UTC instant resolved from HH:MM and the poll time
SCHEDULED_DEPARTURE = "scheduled_departure"
DELAY_ARRIVAL = "delay_arrival"      # minutes, null when the event does not exist
DELAY_DEPARTURE = "delay_departure"
IS_CANCELLED = "is_cancelled"
MISSING_REALTIME = "missing_realtime"
REASON_CODES = "reason_codes"        # comma-joined IRIS codes from messages.delay, newest first
ROUTE = "route"                      # "|"-joined station names of the full route incl. this station
CANCELLED_STOPS = "cancelled_stops"  # "|"-joined route stops flagged isCancelled
ADDITIONAL_STOPS = "additional_stops"
VIA = "via"                          # "|"-joined

SNAPSHOT_SCHEMA = pa.schema([
    (STATION, pa.string()), (POLL_TIME, TS), (SERVICE_DATE, pa.date32()),
    (TRAIN, pa.string()), (CATEGORY, pa.string()), (TRAIN_NUMBER, pa.string()),
    (TRAIN_CLASSES, pa.string()), (DESTINATION, pa.string()),
    (PLATFORM, pa.string()), (SCHEDULED_PLATFORM, pa.string()),
    (SCHEDULED_ARRIVAL, TS), (SCHEDULED_DEPARTURE, TS),
    (DELAY_ARRIVAL, pa.int16()), (DELAY_DEPARTURE, pa.int16()),
    (IS_CANCELLED, pa.bool_()), (MISSING_REALTIME, pa.bool_()),
    (REASON_CODES, pa.string()), (ROUTE, pa.string()), (CANCELLED_STOPS, pa.string()),
    (ADDITIONAL_STOPS, pa.string()), (VIA, pa.string()),
])
SNAPSHOT_KEY = (STATION, POLL_TIME, SERVICE_DATE, TRAIN_NUMBER)

# --- polls: one row per poll attempt --------------------------------------------------------------
POLL_STATUS = "status"               # ok | failed | quarantined
POLL_RECORDS = "n_records"
POLL_REASON = "reason"
POLLS_SCHEMA = pa.schema([
    (STATION, pa.string()), (POLL_TIME, TS), (POLL_STATUS, pa.string()),
    (POLL_RECORDS, pa.int32()), (POLL_REASON, pa.string()),
])

# --- departures: one row per decided (station, train number, service date) ------------------------
DEPARTURE_ID = "departure_id"
FIRST_SEEN = "first_seen"
LAST_SEEN = "last_seen"              # event time of the departure: the last poll showing the train
N_POLLS = "n_polls"
DEPARTURE_ESTIMATE = "departure_estimate"   # scheduled + last shown delay, never before LAST_SEEN
PLANNED_DESTINATION = "planned_destination" # last stop of the full route
PLATFORM_CHANGED = "platform_changed"
DECIDED_AT = "decided_at"

# --- features and labels ----------------------------------------------------------------------------
T_PRED = "t_pred"
LINE = "line"
CORRIDOR = "corridor"
LABEL = "label"                      # arrival delay at the planned destination, minutes
LABELED_AT = "labeled_at"
LABEL_STATUS = "label_status"        # labeled | unlabelable
LABEL_REASON = "label_reason"
PRED_PERSISTENCE = "pred_persistence"
PRED_PERSISTENCE_GROWTH = "pred_persistence_growth"
PRED_BOARD_FORECAST = "pred_board_forecast"
BASELINES = (PRED_PERSISTENCE, PRED_PERSISTENCE_GROWTH, PRED_BOARD_FORECAST)

# --- simulator ground truth: one row per (train run, stop) ------------------------------------------
RUN_ID = "run_id"
STOP_SEQ = "stop_seq"
TRUE_ARRIVAL = "true_arrival"
TRUE_DEPARTURE = "true_departure"
STOP_CANCELLED = "stop_cancelled"
RUN_CANCELLED = "run_cancelled"

CATEGORIES = ("ICE", "IC", "RE", "RB", "S")
