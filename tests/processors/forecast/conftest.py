"""Fitted models shared by the LightGBM and ensemble tests (fitted once per session)."""

import pytest

from gridbrain.processors.forecast.gbm import LightGbm
from tests.processors.forecast.test_models import DAY, parts, series

#: A quick LightGBM: few rounds, small leaves.
QUICK = {"rounds": 60, "min_rows": 20, "patience": 10}


@pytest.fixture(scope="session")
def data():  # type: ignore[no-untyped-def]
    """Train, validation and test windows of 60 days of a temperature-driven daily cycle."""
    return parts(series(days=60))


@pytest.fixture(scope="session")
def gbm(data):  # type: ignore[no-untyped-def]
    """A calibrated LightGBM fitted on :func:`data`."""
    train, val, _ = data
    return LightGbm(7 * DAY, DAY, n_exog=3, train=QUICK).fit(train, val)
