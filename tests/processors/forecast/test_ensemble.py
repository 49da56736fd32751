"""The ensemble: members weighed on validation, useless ones dropped, saved and served."""

import io
from typing import Any

import numpy as np
import pytest
import torch

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.base import QuantileModel, load_model
from gridbrain.processors.forecast.baselines import Persistence
from gridbrain.processors.forecast.batch import LEVELS, P50, WindowBatch
from gridbrain.processors.forecast.ensemble import Ensemble
from gridbrain.processors.forecast.gbm import LightGbm
from tests.processors.forecast.conftest import QUICK
from tests.processors.forecast.test_models import DAY, series


class Constant(QuantileModel):
    """Forecasts one value at every level: a member no combination should want."""

    kind = "test_constant"

    def __init__(self, value: float = 1e4) -> None:
        super().__init__()
        self.value = value

    def config(self) -> dict[str, Any]:
        return {"value": self.value}

    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        return np.full((len(batch), batch.horizon, len(LEVELS)), self.value)


def mae(model: QuantileModel, part: tuple[WindowBatch, np.ndarray]) -> float:
    batch, target = part
    return float(np.nanmean(np.abs(model.forecast(batch)[..., P50] - target)))


def test_before_weighing_the_members_count_alike(data, gbm) -> None:  # type: ignore[no-untyped-def]
    train, val, (test, _) = data
    naive = Persistence().fit(train, val)
    ensemble = Ensemble.of([gbm, naive])
    assert ensemble.name == "ensemble_lightgbm_calibrated+persistence"
    assert ensemble.weights == [0.5, 0.5]
    np.testing.assert_allclose(
        ensemble.predict_raw(test), (gbm.forecast(test) + naive.forecast(test)) / 2
    )


def test_weighing_keeps_the_validation_error_at_most_the_best_members(data, gbm) -> None:  # type: ignore[no-untyped-def]
    train, val, test = data
    naive = Persistence().fit(train, val)
    ensemble = Ensemble.of([gbm, naive, Constant()]).fit(train, val)
    assert isinstance(ensemble, Ensemble)
    assert "test_constant" not in ensemble.name  # weight 0: dropped
    assert sum(ensemble.weights) == pytest.approx(1.0) and min(ensemble.weights) > 0
    assert mae(ensemble, val) <= min(mae(gbm, val), mae(naive, val)) * 1.001
    assert mae(ensemble, test) < mae(naive, test)
    batch, _ = test
    medians = np.tensordot(
        ensemble.weights, [m.forecast(batch)[..., P50] for m in ensemble.members], axes=1
    )
    np.testing.assert_allclose(ensemble.forecast(batch)[..., P50], medians)  # band only scaled
    again = load_model(ensemble.to_bytes())
    assert again.name == ensemble.name and again.lookback == ensemble.lookback
    np.testing.assert_allclose(again.forecast(batch), ensemble.forecast(batch))


def test_an_untrained_ensemble_fits_its_members_first(data) -> None:  # type: ignore[no-untyped-def]
    train, val, test = data
    fresh = [LightGbm(7 * DAY, DAY, n_exog=3, train=QUICK), Persistence()]
    ensemble = Ensemble.untrained(fresh).fit(train, val)
    assert mae(ensemble, test) < mae(Persistence().fit(train, val), test)
    q = ensemble.forecast(test[0])
    assert q.shape == (len(test[0]), DAY, len(LEVELS)) and (np.diff(q, axis=-1) >= 0).all()


def test_an_ensemble_saved_before_weights_loads_them_equal(data, gbm) -> None:  # type: ignore[no-untyped-def]
    train, val, (test, _) = data
    ensemble = Ensemble.of([gbm, Persistence().fit(train, val)])
    ensemble.calibrate(*val)
    saved = torch.load(io.BytesIO(ensemble.to_bytes()), weights_only=True)
    del saved["config"]["weights"]
    old = io.BytesIO()
    torch.save(saved, old)
    again = load_model(old.getvalue())
    assert isinstance(again, Ensemble) and again.weights == [0.5, 0.5]
    np.testing.assert_allclose(again.forecast(test), ensemble.forecast(test))


def test_an_ensemble_without_members_is_refused(data) -> None:  # type: ignore[no-untyped-def]
    train, val, _ = data
    with pytest.raises(ModelError):
        Ensemble().fit(train, val)
    with pytest.raises(ModelError):
        Ensemble().predict_raw(val[0])


def test_a_served_ensemble_forecasts_the_streams_windows(data, gbm) -> None:  # type: ignore[no-untyped-def]
    from gridbrain.processors.forecast.forecaster import (
        ForecastConfig,
        ServingModel,
        forecast_batch,
    )
    from gridbrain.processors.forecast.history import Window

    train, val, _ = data
    ensemble = Ensemble.of([gbm, Persistence().fit(train, val)]).fit(train, val)
    s = series(days=60)
    history, exog = s.values[-7 * DAY :], s.exog[-7 * DAY :]
    last = s.start_ms + (len(s.values) - 1) * s.step_ms
    w = Window("site", "load", last, history, exog, len(history))
    served = {"load": [ServingModel(load_model(ensemble.to_bytes()), "load-ensemble:1")]}
    (f,) = forecast_batch([w], ForecastConfig(step_ms=s.step_ms, horizon_steps=DAY), served=served)
    assert (f.model, f.model_version, f.fallback) == (ensemble.name, "load-ensemble:1", None)
    assert np.isfinite(f.p50).all() and (f.p10 <= f.p50).all() and (f.p50 <= f.p90).all()
    assert abs(np.mean(f.p50) - np.mean(history)) < 3 * np.std(history)


@pytest.mark.parametrize(
    "weights", [[0.5], [0.7, 0.7], [1.5, -0.5], [float("nan"), 1.0], ["0.5", "0.5"], None]
)
def test_an_artifact_with_broken_weights_is_refused(data, gbm, weights) -> None:  # type: ignore[no-untyped-def]
    train, val, _ = data
    ensemble = Ensemble.of([gbm, Persistence().fit(train, val)])
    saved = torch.load(io.BytesIO(ensemble.to_bytes()), weights_only=True)
    saved["config"]["weights"] = weights
    if weights is None:
        saved["config"]["size"] = 3  # members the state does not hold
    broken = io.BytesIO()
    torch.save(saved, broken)
    with pytest.raises(ModelError):
        load_model(broken.getvalue())
