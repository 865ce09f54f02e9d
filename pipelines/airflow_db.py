"""Connect arguments for Airflow's SQLite metadata DB (the AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS*
settings `airflow_local.airflow_env` gives every Airflow process point here).

The scheduler, the DAG processor, the API server, task supervisors and the `airflow` CLI all write one
SQLite file. With Python's default 5 s busy timeout, an `airflow backfill create` run beside a busy
scheduler on a loaded 2-core machine failed with "database is locked" halfway through. Every Airflow
process imports this module: standard library only, no side effects.
"""

BUSY_TIMEOUT_S = 60.0
SYNC = {"timeout": BUSY_TIMEOUT_S}   # sqlite3.connect(timeout=...): wait for a lock this long
ASYNC = {"timeout": BUSY_TIMEOUT_S}  # aiosqlite passes it on to sqlite3.connect
