"""The delay model: feature matrix, category vocabularies, a LightGBM booster in its native text format."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import schema as s
from pipelines.config import Train
from pipelines.storage import DataPath, StorePath, atomic_path, to_path, write_json

MODEL_FILE = "model.txt"
VOCAB_FILE = "vocabularies.json"
UNSEEN = 0      # reserved code for a category value the model never saw (and for nulls)
NULL_TOKEN = ""  # nulls share one vocabulary entry so "unknown" and "missing" stay distinct when seen
Rows = pd.DataFrame | pa.Table


def _as_text(column: pd.Series) -> pd.Series:
    """A categorical feature as Python strings, nulls as NULL_TOKEN (numbers stored as text compare equal)."""
    if column.dtype != object or pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
        column = column.astype("string")
    return column.fillna(NULL_TOKEN).astype(object)


def _text(rows: Rows, col: str) -> pa.ChunkedArray:
    """A categorical column of a pandas frame or an Arrow table as Arrow strings, nulls as NULL_TOKEN."""
    column = rows[col]
    if isinstance(column, pd.Series):
        return pa.chunked_array([pa.array(_as_text(column), type=pa.string())])
    return pc.fill_null(column.cast(pa.string()), NULL_TOKEN)


def _numeric(rows: Rows, col: str) -> np.ndarray:
    """A numeric column as float64, nulls (and in pandas, unparsable values) as NaN."""
    column = rows[col]
    if isinstance(column, pd.Series):
        return pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
    return column.cast(pa.float64()).to_numpy()


def build_vocabularies(rows: Rows) -> dict[str, list[str]]:
    """Sorted distinct values of every categorical feature; code i+1 is value i, code 0 is unseen."""
    return {col: sorted(pc.unique(_text(rows, col)).to_pylist()) for col in s.FEATURE_CATEGORICAL}


def feature_matrix(rows: Rows, vocab: dict[str, list[str]]) -> pd.DataFrame:
    """Model input: numeric features as float64, categoricals as int32 codes (UNSEEN for new values).

    `rows` is a pandas frame (scoring, evaluation) or an Arrow table (training reads a million rows
    without a pandas copy); both give the same matrix.
    """
    out = {col: _numeric(rows, col) for col in s.FEATURE_NUMERIC}
    for col in s.FEATURE_CATEGORICAL:
        found = pc.index_in(_text(rows, col), value_set=pa.array(vocab[col], type=pa.string()))
        out[col] = (pc.fill_null(found, -1).to_numpy() + 1).astype("int32")  # outside the vocabulary: UNSEEN
    return pd.DataFrame(out, index=rows.index if isinstance(rows, pd.DataFrame) else None)


def booster_params(train: Train) -> dict:
    """LightGBM parameters with the seeds pinned so a re-run gives the same trees."""
    params = dict(train.lgb_params)
    params.update(seed=train.seed, bagging_seed=train.seed, feature_fraction_seed=train.seed,
                  data_random_seed=train.seed)
    return params


def fit_booster(train_x: pd.DataFrame, train_y: np.ndarray, valid_x: pd.DataFrame, valid_y: np.ndarray,
                train: Train, weight: np.ndarray | None = None) -> lgb.Booster:
    """Train with early stopping on the validation slice (training rows weighted by `weight`, if given)."""
    cats = list(s.FEATURE_CATEGORICAL)
    dtrain = lgb.Dataset(train_x, label=train_y, weight=weight, categorical_feature=cats, free_raw_data=True)
    dvalid = lgb.Dataset(valid_x, label=valid_y, categorical_feature=cats, reference=dtrain)
    callbacks = [lgb.early_stopping(train.early_stopping_rounds, verbose=False)] if len(valid_y) else []
    booster = lgb.train(booster_params(train), dtrain, num_boost_round=train.num_boost_round,
                        valid_sets=[dvalid] if len(valid_y) else None, callbacks=callbacks)
    # Reload from text cut at the best iteration: the file MLflow stores, the file we hash and the
    # booster we predict with are then the same trees.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration or None))


@dataclass(frozen=True)
class DelayModel:
    """A booster plus the vocabularies that turn categorical values into its integer codes."""

    booster: lgb.Booster
    vocab: dict[str, list[str]]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted arrival delay at the planned destination, minutes."""
        if frame.empty:
            return np.zeros(0)
        return self.booster.predict(self.matrix(frame))

    def matrix(self, frame: Rows) -> pd.DataFrame:
        """The booster's input for `frame` (categoricals encoded with this model's vocabularies)."""
        return feature_matrix(frame, self.vocab)

    def save(self, directory: str | DataPath) -> DataPath:
        """Write model.txt and vocabularies.json atomically (here or in the store); returns the model file."""
        directory = to_path(directory)
        target = directory / MODEL_FILE
        with atomic_path(target) as tmp:
            self.booster.save_model(tmp)
        write_json(self.vocab, directory / VOCAB_FILE)
        return target


def load_model(model_file: str | Path, vocab_file: str | Path | None = None) -> DelayModel:
    """Load a native-text booster and its vocabularies (default: vocabularies.json beside it)."""
    model_file = Path(model_file)
    vocab_path = Path(vocab_file) if vocab_file else model_file.parent / VOCAB_FILE
    vocab = json.loads(vocab_path.read_text())
    return DelayModel(lgb.Booster(model_file=str(model_file)), vocab)


def file_sha256(path: str | DataPath) -> str:
    """SHA-256 hex digest of a file's bytes (local or in the store)."""
    path = to_path(path)
    if isinstance(path, StorePath):
        return hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def feature_importance(booster: lgb.Booster) -> dict[str, float]:
    """Total gain per feature, sorted by name for stable output."""
    gains = booster.feature_importance(importance_type="gain")
    return {name: float(g) for name, g in sorted(zip(booster.feature_name(), gains, strict=True))}
