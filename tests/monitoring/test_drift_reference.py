"""The drift tests' reference: the champion's holdout and its last training days, scored by the champion.

A registered version from the real training stage and the real MLflow store; the monitor's checks run on
the frames the function returns.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.modeling import train
from pipelines.monitoring import checks as monitor_checks
from pipelines.monitoring import inputs as mi
from tests.small_training import day, small_training, synthetic_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Version 1 trained on days 1-3 with day 4 as its holdout."""
    with synthetic_store(tmp_path_factory, "drift-reference", small_training(3, 2, 20), 4, 300) as (
            params, layout, as_of):
        yield params, layout, train.run(params, layout, as_of, {"kind": "bootstrap"})["version"]


def with_reference_days(params, days: int):
    return dataclasses.replace(params, monitor=dataclasses.replace(params.monitor, reference_days=days))


def dates(frame: pd.DataFrame) -> list[str]:
    return sorted(frame[s.SERVICE_DATE].astype(str).unique())


def test_the_reference_adds_the_training_days_before_the_holdout_scored_by_the_champion(trained) -> None:
    params, layout, version = trained
    registry = mi.RegistryReference(params, layout)
    ref, holdout = mi.drift_reference(with_reference_days(params, 3), layout, registry, version)
    assert dates(holdout) == [str(day(4))]
    assert dates(ref) == [str(day(2)), str(day(3)), str(day(4))], "days 2-3 of training, then the holdout"
    assert list(ref.columns) == list(holdout.columns)
    added = ref[ref[s.SERVICE_DATE].astype(str) != str(day(4))]
    rows = mi.read_window(params, layout, [day(2), day(3)], None)
    assert len(added) == len(rows) > 0
    by_id = added.set_index(s.DEPARTURE_ID)[s.PREDICTION]
    expected = pd.Series(registry.model(version).predict(rows), index=rows[s.DEPARTURE_ID])
    np.testing.assert_allclose(by_id.loc[expected.index].to_numpy(), expected.to_numpy())
    pd.testing.assert_frame_equal(ref[ref[s.SERVICE_DATE].astype(str) == str(day(4))].reset_index(drop=True),
                                  holdout.reset_index(drop=True), check_dtype=False)

    current = mi.read_window(params, layout, [day(4)], version)
    _, evidence = monitor_checks.check_window(params.monitor, ref, current, holdout)
    assert evidence["rows"]["reference"] == len(ref) and evidence["rows"]["holdout"] == len(holdout)
    alone = monitor_checks.check_window(params.monitor, holdout, current)[1]
    assert evidence["skill"] == alone["skill"], "skill is judged against the holdout alone"


@pytest.mark.parametrize("days", [0, 1])
def test_reference_days_up_to_the_holdout_keep_the_holdout_alone(trained, days) -> None:
    params, layout, version = trained
    registry = mi.RegistryReference(params, layout)
    ref, holdout = mi.drift_reference(with_reference_days(params, days), layout, registry, version)
    assert ref is holdout and dates(ref) == [str(day(4))]


def test_a_file_reference_has_no_model_and_keeps_its_frame(tmp_path, trained) -> None:
    params, layout, version = trained
    frame = mi.RegistryReference(params, layout).frame(version)
    frame.to_parquet(tmp_path / "reference.parquet")
    stand_in = mi.FileReference(tmp_path / "reference.parquet", "1")
    ref, holdout = mi.drift_reference(params, layout, stand_in, "1")
    assert ref is holdout and len(ref) == len(frame)
