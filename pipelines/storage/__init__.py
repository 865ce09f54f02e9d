"""Where state lives and atomic, deterministic writes.

Local state (the state database's SQLite file, the embedded MLflow store, the Airflow home, the DVC
lineage repository) lives under RAILCAST_HOME. Datasets live under the data root: RAILCAST_HOME too by
default, or an S3-compatible store when RAILCAST_DATA_URI=s3://bucket/prefix (endpoint and keys from
AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). A dataset path is then a `StorePath`: the
part of pathlib.Path that Railcast uses, over pyarrow's S3 filesystem; its bytes are read and written
through it, and every write is one PUT of the finished object (atomic for readers).
"""

from pipelines.storage.files import (
    arrow_dataset,
    atomic_path,
    duckdb_view,
    local_file,
    read_frame,
    read_json,
    read_table,
    write_json,
    write_parquet,
)
from pipelines.storage.layout import DATA_URI_ENV, Layout, railcast_home
from pipelines.storage.objects import DataPath, StorePath, data_root, to_path

__all__ = ["DATA_URI_ENV", "DataPath", "Layout", "StorePath", "arrow_dataset", "atomic_path", "data_root",
           "duckdb_view", "local_file", "railcast_home", "read_frame", "read_json", "read_table", "to_path",
           "write_json", "write_parquet"]
