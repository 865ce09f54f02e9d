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

# --- validation: helper columns of a validated batch and its quarantine ------------------------------
ROW_ID = "row_id"                    # position of a row in the validated batch
ROW_KEY = "row_key"                  # 64-bit hash of a compound key, for uniqueness checks
RULE = "rule"                        # the expectation a quarantined row failed

# --- departures: one row per decided (station, train number, service date) ------------------------
DEPARTURE_ID = "departure_id"
FIRST_SEEN = "first_seen"
LAST_SEEN = "last_seen"              # event time of the departure: the last poll showing the train
N_POLLS = "n_polls"
DEPARTURE_ESTIMATE = "departure_estimate"   # scheduled + last shown delay, never before LAST_SEEN
PLANNED_DESTINATION = "planned_destination" # last stop of the full route
PLATFORM_CHANGED = "platform_changed"
DECIDED_AT = "decided_at"
DEPARTURES_SCHEMA = pa.schema([
    (DEPARTURE_ID, pa.string()), (STATION, pa.string()), (SERVICE_DATE, pa.date32()),
    (TRAIN_NUMBER, pa.string()), (TRAIN, pa.string()), (CATEGORY, pa.string()),
    (DESTINATION, pa.string()), (PLANNED_DESTINATION, pa.string()), (ROUTE, pa.string()),
    (SCHEDULED_DEPARTURE, TS), (FIRST_SEEN, TS), (LAST_SEEN, TS), (N_POLLS, pa.int32()),
    (DELAY_DEPARTURE, pa.int16()), (DEPARTURE_ESTIMATE, TS), (IS_CANCELLED, pa.bool_()),
    (PLATFORM_CHANGED, pa.bool_()), (DECIDED_AT, TS),
])

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
BOARD_FORECAST_AVAILABLE = "board_forecast_available"  # False: pred_board_forecast fell back on persistence
PREDICTION = "prediction"            # a model's predicted arrival delay, minutes (holdout reference, scores)

# --- predictions: one row per scored departure (the `score` stage) ---------------------------------
PREDICTION_ID = "prediction_id"              # 16 hex chars of sha1 of "{departure_id}|{model_version}"
MODEL_VERSION = "model_version"              # registered version of the champion that scored the row
SHADOW_MODEL_VERSION = "shadow_model_version"  # the first champion ever promoted, scored in shadow
SHADOW_PREDICTION = "shadow_prediction"
PREDICTIONS_SCHEMA = pa.schema([
    (PREDICTION_ID, pa.string()), (DEPARTURE_ID, pa.string()), (SERVICE_DATE, pa.date32()), (T_PRED, TS),
    (MODEL_VERSION, pa.string()), (PREDICTION, pa.float64()),
    (SHADOW_MODEL_VERSION, pa.string()), (SHADOW_PREDICTION, pa.float64()),
])

# --- simulator ground truth: one row per (train run, stop) ------------------------------------------
RUN_ID = "run_id"
STOP_SEQ = "stop_seq"
TRUE_ARRIVAL = "true_arrival"
TRUE_DEPARTURE = "true_departure"
STOP_CANCELLED = "stop_cancelled"
RUN_CANCELLED = "run_cancelled"
IS_ADDITIONAL = "is_additional"        # a stop not in the plan, added on the day

CATEGORIES = ("ICE", "IC", "RE", "RB", "S")

# --- model inputs (built by build_features; used by train, score, monitor) --------------------------
DELAY_AT_PRED = "delay_at_pred"              # delayDeparture shown at t_pred at the departing station
REMAINING_SCHED_MIN = "remaining_sched_min"  # scheduled minutes from departure here to arrival at destination
REMAINING_STOPS = "remaining_stops"          # non-cancelled route stops after this station
HOUR = "hour"                                # Berlin hour of the scheduled departure
WEEKDAY = "weekday"                          # 0 = Monday
DELAY_TREND = "delay_trend"                  # minutes per poll over the last `features.trend_polls` polls
LATE_VS_SCHEDULE_MIN = "late_vs_schedule_min"  # t_pred minus scheduled departure, minutes
PLATFORM_CHANGE = "platform_change"          # 1 when platform != scheduled platform at t_pred
REASON_CODE = "reason_code"                  # newest delay reason code at t_pred, "none" if none
N_REASONS = "n_reasons"
LINE_RECENT_DELAY = "line_recent_delay"      # mean delay of the line's trains seen in the recent window
STATION_RECENT_DELAY = "station_recent_delay"
DEST_BOARD_FORECAST = "dest_board_forecast"  # delayArrival shown on the destination's board at t_pred
FEATURE_NUMERIC = (DELAY_AT_PRED, REMAINING_SCHED_MIN, REMAINING_STOPS, HOUR, WEEKDAY, DELAY_TREND,
                   LATE_VS_SCHEDULE_MIN, PLATFORM_CHANGE, N_REASONS, LINE_RECENT_DELAY,
                   STATION_RECENT_DELAY, DEST_BOARD_FORECAST)
FEATURE_CATEGORICAL = (CATEGORY, LINE, STATION, PLANNED_DESTINATION, CORRIDOR, REASON_CODE)
FEATURES = FEATURE_NUMERIC + FEATURE_CATEGORICAL

# --- dataset contracts: the features and labels partitions, and the training rows joined from them ----
_F64, _I16, _STR = pa.float64(), pa.int16(), pa.string()
_TYPES = {REMAINING_STOPS: _I16, HOUR: _I16, WEEKDAY: _I16, PLATFORM_CHANGE: pa.int8(), N_REASONS: _I16}
FEATURES_SCHEMA = pa.schema(
    [(DEPARTURE_ID, _STR), (SERVICE_DATE, pa.date32()), (T_PRED, TS), (TRAIN_NUMBER, _STR)]
    + [(c, _TYPES.get(c, _F64)) for c in FEATURE_NUMERIC]
    + [(c, _STR) for c in FEATURE_CATEGORICAL]
    + [(c, _F64) for c in BASELINES] + [(BOARD_FORECAST_AVAILABLE, pa.bool_())])
LABELED, UNLABELABLE = "labeled", "unlabelable"            # values of LABEL_STATUS
LABELS_SCHEMA = pa.schema([(DEPARTURE_ID, _STR), (LABEL, pa.float64()), (LABELED_AT, TS),
                           (LABEL_STATUS, _STR), (LABEL_REASON, _STR)])
TRAINING_SCHEMA = pa.schema([*FEATURES_SCHEMA, LABELS_SCHEMA.field(LABEL), LABELS_SCHEMA.field(LABELED_AT)])

# --- the live predictions stream: one row per published live decision (`railcast live`) --------------
PUBLISHED_AT = "published_at"          # wall clock when the row was written
PREDICTED_ARRIVAL = "predicted_arrival"  # scheduled arrival + predicted delay (null: arrival unknown)
LIVE_STATUS = "live_status"            # live | withdrawn (shown again after its decision: no departure)
ROLE = "role"                          # champion | shadow (the challenger, scored on the same departures)
LIVE_SCHEMA = pa.schema([
    (PREDICTION_ID, _STR), (DEPARTURE_ID, _STR), (SERVICE_DATE, pa.date32()), (STATION, _STR),
    (TRAIN_NUMBER, _STR), (TRAIN, _STR), (PLANNED_DESTINATION, _STR), (SCHEDULED_DEPARTURE, TS),
    (T_PRED, TS), (DECIDED_AT, TS), (PUBLISHED_AT, TS), (ROLE, _STR), (MODEL_VERSION, _STR),
    (PREDICTION, _F64), (PREDICTED_ARRIVAL, TS), (DELAY_AT_PRED, _F64), (PRED_PERSISTENCE, _F64),
    (PRED_BOARD_FORECAST, _F64), (LIVE_STATUS, _STR)])
