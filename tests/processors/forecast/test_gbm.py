"""LightGBM (OpenSTEF style) as a model kind."""

import numpy as np
import pytest

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.base import load_model
from gridbrain.processors.forecast.baselines import Persistence
from gridbrain.processors.forecast.batch import LEVELS, P10, P50, P90, WindowBatch
from gridbrain.processors.forecast.gbm import LightGbm, gbm_features
from tests.processors.forecast.conftest import QUICK
from tests.processors.forecast.test_models import DAY


def test_features_put_each_lag_where_it_lies_in_the_history() -> None:
    y = np.arange(200, dtype=float)[None, :]  # value = position in the history
    batch = WindowBatch(
        y,
        np.full((1, 224, 2), 7.0),
        np.array([0]),
        3_600_000,
        24,
        np.array([np.nan]),
        np.array([np.nan]),
    )
    x = gbm_features(batch)
    assert x.shape == (24, 10 + 2)
    lead, lag_1d, lag_2d, lag_7d, last, day_mean = (x[:, k] for k in range(6))
    assert lead.tolist() == list(range(1, 25))
    assert lag_1d.tolist() == [199 + h - 24 for h in range(1, 25)]  # the same hour yesterday
    assert lag_2d[0] == 199 + 1 - 48 and lag_7d[0] == 199 + 1 - 168
    assert (last == 199).all() and (day_mean == np.mean(np.arange(176, 200))).all()
    assert (x[:, -2:] == 7.0).all()  # weather at the target step


def test_day_weather_features_cover_the_24_hours_up_to_each_target() -> None:
    exog = np.arange(224, dtype=float)[None, :, None].repeat(2, axis=-1)  # value = position
    batch = WindowBatch(
        np.zeros((1, 200)),
        exog,
        np.array([0]),
        3_600_000,
        24,
        np.array([np.nan]),
        np.array([np.nan]),
    )
    x = gbm_features(batch, weather_days=True)
    assert x.shape == (24, 10 + 2 + 3 * 2)
    mean, low, high = x[:, 12], x[:, 14], x[:, 16]  # the first variable's mean, min, max
    target = 200 + np.arange(24)  # position of each target step
    np.testing.assert_allclose(high, target)
    np.testing.assert_allclose(low, target - 23)
    np.testing.assert_allclose(mean, target - 11.5)


def test_lightgbm_beats_persistence_and_round_trips(data, gbm) -> None:  # type: ignore[no-untyped-def]
    train, val, (test, target) = data
    q = gbm.forecast(test)
    assert q.shape == (len(test), DAY, len(LEVELS))
    mae = np.nanmean(np.abs(q[..., P50] - target))
    naive = Persistence().fit(train, val).forecast(test)
    assert mae < 0.7 * np.nanmean(np.abs(naive[..., P50] - target))
    assert (q[..., P90] >= q[..., P10]).all()
    again = load_model(gbm.to_bytes())
    assert again.name == "lightgbm_calibrated"
    np.testing.assert_allclose(again.forecast(test), q)


def test_raw_quantiles_are_not_calibrated_and_calibration_keeps_the_median(  # type: ignore[no-untyped-def]
    data, gbm
) -> None:
    train, val, (test, _) = data
    raw = LightGbm(7 * DAY, DAY, n_exog=3, calibrated=False, train=QUICK).fit(train, val)
    assert raw.name == "lightgbm" and raw.shifts is None and (raw.band.step == 1).all()
    assert (raw.band.hour == 1).all()
    np.testing.assert_allclose(gbm.forecast(test)[..., P50], raw.forecast(test)[..., P50])
    assert not np.allclose(gbm.band.step, 1.0)  # the band did move
    np.testing.assert_allclose(raw.forecast(test), np.sort(raw.predict_raw(test), axis=-1))
    assert load_model(raw.to_bytes()).name == "lightgbm"


def test_wrong_windows_are_refused(data, gbm) -> None:  # type: ignore[no-untyped-def]
    _, _, (test, _) = data
    with pytest.raises(ModelError):
        LightGbm(7 * DAY, DAY, n_exog=3).forecast(test)  # not trained
    shorter = WindowBatch(
        test.y,
        test.exog[:, : 7 * DAY + 12],
        test.last_ts_ms,
        test.step_ms,
        12,
        test.latitude,
        test.longitude,
    )
    with pytest.raises(ModelError, match="forecasts 24 steps"):
        gbm.forecast(shorter)


def test_a_trained_lightgbm_serves_the_streams_15_minute_windows() -> None:
    from gridbrain.processors.forecast.dataset import Series, split_origins, window_targets
    from gridbrain.processors.forecast.dataset import windows_at as cut
    from gridbrain.processors.forecast.forecaster import (
        ForecastConfig,
        ServingModel,
        forecast_batch,
    )
    from gridbrain.processors.forecast.history import Window

    step, per_day = 900_000, 96
    t = np.arange(40 * per_day)
    y = 100 + 30 * np.sin(2 * np.pi * t / per_day) + np.random.default_rng(2).normal(0, 2, len(t))
    s = Series("feeder", "load", 1_704_067_200_000, step, y, np.full((len(t), 3), np.nan))
    parts = split_origins(len(t), 2 * per_day, per_day, (0.7, 0.2), 8, per_day)
    model = LightGbm(2 * per_day, per_day, n_exog=3, train=QUICK).fit(
        (cut(s, parts.train, 2 * per_day, per_day, False), window_targets(s, parts.train, per_day)),
        (cut(s, parts.val, 2 * per_day, per_day, False), window_targets(s, parts.val, per_day)),
    )
    history = y[-7 * per_day :]
    last = s.start_ms + (len(t) - 1) * step
    w = Window("feeder", "load", last, history, np.full((len(history), 3), np.nan), len(history))
    config = ForecastConfig(step_ms=step, horizon_steps=per_day)
    served = {"load": [ServingModel(load_model(model.to_bytes()), "load-lightgbm:1")]}
    (f,) = forecast_batch([w], config, served=served)
    assert (f.model, f.model_version, f.fallback) == (
        "lightgbm_calibrated",
        "load-lightgbm:1",
        None,
    )
    expected = 100 + 30 * np.sin(2 * np.pi * np.arange(len(t), len(t) + per_day) / per_day)
    assert np.mean(np.abs(f.p50 - expected)) < 5.0
    assert (f.p10 <= f.p50).all() and (f.p50 <= f.p90).all()


def test_the_local_calendar_teaches_holidays_and_serves_them() -> None:
    """Work days carry 40 more than weekends and Spain's holidays; only the calendar knows which."""
    from gridbrain.processors.forecast.forecaster import (
        ForecastConfig,
        ServingModel,
        forecast_batch,
    )
    from gridbrain.processors.forecast.history import Window
    from tests.processors.forecast.workdays import HOUR, MADRID, workdays

    days = workdays()
    assert len(days.holidays) >= 3  # weekday holidays in the last fifth of 2018
    test, target = days.part(days.holidays)
    errors = {}
    for calendar in (False, True):
        model = LightGbm(7 * DAY, DAY, n_exog=3, local_calendar=calendar, train=QUICK)
        model.fit(days.train, days.val)
        errors[calendar] = np.mean(np.abs(model.forecast(test)[..., P50] - target)[days.off])
    assert errors[True] < 12 < 25 < errors[False], errors  # noise: 2; the effect: 40

    served = {"load": [ServingModel(load_model(model.to_bytes()), "load-lightgbm:1")]}
    config = ForecastConfig(step_ms=HOUR, horizon_steps=DAY)
    o, y = int(days.holidays[0]), days.series.values
    last = days.series.start_ms + o * HOUR
    w = Window(
        "es", "load", last, y[o - 7 * DAY + 1 : o + 1], np.full((7 * DAY, 3), np.nan), 7 * DAY
    )
    (knows,) = forecast_batch([w], config, served=served, calendars={"es": MADRID})
    (blind,) = forecast_batch([w], config, served=served)
    off = days.off[0]
    assert np.mean(np.abs(knows.p50 - y[o + 1 : o + 1 + DAY])[off]) < 12
    assert np.mean(blind.p50[off] - knows.p50[off]) > 20  # it took the day for a work day
