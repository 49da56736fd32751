from dataclasses import replace

import numpy as np
import pytest

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.base import QuantileModel
from gridbrain.processors.forecast.baselines import Persistence, SeasonalNaive
from gridbrain.processors.forecast.batch import LEVELS, WindowBatch
from gridbrain.processors.forecast.forecaster import (
    BUILTIN_VERSION,
    ForecastConfig,
    LatencyBudget,
    ServingModel,
    choose_builtin,
    forecast_batch,
)
from gridbrain.processors.forecast.history import Window
from gridbrain.processors.quality.gaps import completeness

STEP = 900_000
DAY = 96
T0 = 1_700_006_400_000 - 1_700_006_400_000 % 86_400_000  # midnight UTC


def window(y: np.ndarray, exog: np.ndarray | None = None, quantity: str = "load") -> Window:
    if exog is None:
        exog = np.full((len(y), 3), np.nan)
    last = T0 + (len(y) - 1) * STEP
    return Window("s", quantity, last, y, exog, int(np.isfinite(y).sum()))


def daily(days: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    t = np.arange(days * DAY)
    rng = np.random.default_rng(seed)
    return 100 + 30 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, noise, len(t))


CONFIG = ForecastConfig(step_ms=STEP, horizon_steps=DAY)


@pytest.mark.parametrize(
    ("observed_days", "model"),
    [
        pytest.param(7, "arx", id="week"),
        pytest.param(2, "arx", id="two_days"),
        pytest.param(1.5, "seasonal_naive", id="day_and_a_half"),
        pytest.param(0.5, "persistence", id="half_day"),
        pytest.param(0.02, None, id="one_step"),
    ],
)
def test_model_choice_by_history(observed_days: float, model: str | None) -> None:
    y = daily(7)
    y[: int(len(y) - observed_days * DAY)] = np.nan
    assert choose_builtin(window(y), CONFIG) == (model, None)


@pytest.mark.parametrize(
    ("missing", "model", "fallback"),
    [
        pytest.param(slice(0, 0), "arx", None, id="complete"),
        pytest.param(slice(100, 200), "arx", None, id="one-gap-of-a-day"),
        pytest.param(slice(0, 3 * DAY), "arx", None, id="short-history-is-not-incomplete"),
        pytest.param(
            slice(DAY, 5 * DAY), "seasonal_naive", "completeness 0.43 < 0.80", id="mostly-missing"
        ),
        pytest.param(
            slice(2 * DAY, 7 * DAY - 4),
            "persistence",
            "completeness 0.29 < 0.80",
            id="mostly-missing-and-no-yesterday",
        ),
    ],
)
def test_incomplete_windows_fall_back_and_say_so(
    missing: slice, model: str, fallback: str | None
) -> None:
    y = daily(7)
    y[missing] = np.nan
    w = window(y)
    w = Window(w.site_id, w.quantity, w.last_ts_ms, w.y, w.exog, w.observed_steps, completeness(y))
    assert choose_builtin(w, CONFIG) == (model, fallback)
    (f,) = forecast_batch([w], CONFIG)
    assert (f.model, f.fallback) == (model, fallback)


def test_seasonal_naive_repeats_yesterday_exactly() -> None:
    y = daily(7)
    y[: 5 * DAY] = np.nan  # leaves 2 days: seasonal naive only with min_days_arx raised
    config = ForecastConfig(step_ms=STEP, horizon_steps=DAY, min_days_arx=3)
    (f,) = forecast_batch([window(y)], config)
    assert f.model == "seasonal_naive"
    np.testing.assert_allclose(f.p50, y[-DAY:], rtol=1e-5)
    assert f.target_ts_ms[0] == T0 + 7 * DAY * STEP
    assert f.issued_at_ms == f.target_ts_ms[0]


def test_persistence_repeats_last_value() -> None:
    y = np.full(7 * DAY, np.nan)
    y[-20:] = 19.0
    (f,) = forecast_batch([window(y)], CONFIG)
    assert f.model == "persistence"
    np.testing.assert_allclose([f.p10, f.p50, f.p90], 19.0)


def test_arx_uses_weather_and_beats_seasonal_naive() -> None:
    rng = np.random.default_rng(1)
    n = 8 * DAY
    temp = 15 + np.cumsum(rng.normal(0, 0.3, n))  # a random walk the daily cycle cannot explain
    y = daily(8, noise=1.0) + 4 * temp
    exog = np.stack([temp, np.zeros(n), np.zeros(n)], axis=-1)
    history, future = y[: 7 * DAY], y[7 * DAY :]
    (arx,) = forecast_batch([window(history, exog[: 7 * DAY])], CONFIG)
    naive = history[-DAY:]
    assert arx.model == "arx"
    # Short horizons: AR-X tracks the weather-driven level, the seasonal naive cannot.
    arx_err = np.abs(arx.p50[:8] - future[:8]).mean()
    naive_err = np.abs(naive[:8] - future[:8]).mean()
    assert arx_err < 0.5 * naive_err


def test_quantiles_are_sorted_calibrated_and_clipped() -> None:
    y = daily(7, noise=5.0, seed=3)
    pv = np.clip(y - 110, 0, None)
    forecasts = forecast_batch(
        [window(y), window(pv, quantity="pv_power")], CONFIG, capacities={"s": 15.0}
    )
    load, power = forecasts
    assert np.all(load.p10 <= load.p50) and np.all(load.p50 <= load.p90)
    assert np.all(power.p10 >= 0) and np.all(power.p90 <= 15.0)
    # Interval width near the noise: the 10-90 range of N(0, 5) is about 12.8.
    assert 6 < float(np.mean(load.p90 - load.p10)) < 25


def test_batched_equals_one_by_one() -> None:
    windows = [window(daily(7, noise=2.0, seed=s)) for s in range(5)]
    batched = forecast_batch(windows, CONFIG, budget=LatencyBudget(1.0, initial=64))
    single = [forecast_batch([w], CONFIG)[0] for w in windows]
    for a, b in zip(batched, single, strict=True):
        np.testing.assert_allclose(a.p50, b.p50, rtol=1e-4, atol=1e-3)


class _Constant(QuantileModel):
    """A trained model stand-in: forecasts a constant, or fails."""

    kind = "constant_test"

    def __init__(self, value: float = 7.0, fail: bool = False) -> None:
        super().__init__()
        self.value, self.fail, self.lookback = value, fail, 4 * DAY

    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        if self.fail:
            raise ModelError("weights do not fit")
        return np.full((len(batch), batch.horizon, len(LEVELS)), self.value)


def test_promoted_model_serves_complete_windows_of_its_quantity() -> None:
    served = {"load": [ServingModel(_Constant(), "load-constant:2")]}
    load, pv = forecast_batch(
        [window(daily(7)), window(daily(7), quantity="pv_power")], CONFIG, served=served
    )
    assert (load.model, load.model_version, load.fallback) == (
        "constant_test",
        "load-constant:2",
        None,
    )
    np.testing.assert_allclose(load.p50, 7.0)
    assert (pv.model, pv.model_version) == ("arx", BUILTIN_VERSION)


def test_site_group_model_wins_over_the_quantity_wide_one() -> None:
    served = {
        "load": [
            ServingModel(_Constant(1.0), "all:1"),
            ServingModel(_Constant(2.0), "group:1", frozenset({"s"})),
        ]
    }
    (f,) = forecast_batch([window(daily(7))], CONFIG, served=served)
    assert f.model_version == "group:1"


def test_incomplete_window_skips_the_trained_model() -> None:
    y = daily(7)
    y[DAY : 5 * DAY] = np.nan
    w = window(y)
    w = Window(w.site_id, w.quantity, w.last_ts_ms, w.y, w.exog, w.observed_steps, completeness(y))
    served = {"load": [ServingModel(_Constant(), "load-constant:2")]}
    (f,) = forecast_batch([w], CONFIG, served=served)
    assert (f.model, f.model_version) == ("seasonal_naive", BUILTIN_VERSION)
    assert f.fallback == "completeness 0.43 < 0.80"


def test_failing_model_falls_back_and_records_why() -> None:
    served = {"load": [ServingModel(_Constant(fail=True), "load-constant:3")]}
    (f,) = forecast_batch([window(daily(7))], CONFIG, served=served)
    assert (f.model, f.model_version) == ("arx", BUILTIN_VERSION)
    assert f.fallback == "constant_test failed: weights do not fit"


def test_latency_budget_sizes_calls_from_measured_cost() -> None:
    budget = LatencyBudget(0.2, initial=10, maximum=100)
    assert budget.size("m") == 10
    budget.observe("m", 10, 1.0)  # 0.1 s per window
    assert budget.size("m") == 2
    budget.observe("m", 2, 0.0001)  # faster now: the moving average lowers the cost
    assert budget.size("m") == 0.2 // (0.7 * 0.1 + 0.3 * 0.00005)
    assert [len(c) for c in budget.chunks("x", [window(daily(1))] * 25)] == [10, 10, 5]


class _Rainy(QuantileModel):
    """A text model stand-in: 1 at steps whose text says rain, else 0."""

    kind = "rainy_test"
    reads_text = True

    def __init__(self) -> None:
        super().__init__()
        self.lookback = DAY

    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        assert batch.text is not None and batch.text.shape == (len(batch), batch.horizon, 1)
        rain = np.char.find(batch.text[..., 0].astype(str), "rain") >= 0
        return np.repeat(rain[..., None].astype(float), len(LEVELS), axis=-1)


def test_text_model_reads_the_forecast_text_and_falls_back_without_it() -> None:
    texts = ("light rain",) * 4 + ("sky is clear",) * (DAY - 8)  # 4 steps unknown (short)
    with_text = replace(window(daily(7)), future_text=texts)
    without = window(daily(7))
    served = {"load": [ServingModel(_Rainy(), "load-rainy:1")]}
    rainy, fallback = forecast_batch([with_text, without], CONFIG, served=served)
    assert (rainy.model, rainy.fallback) == ("rainy_test", None)
    np.testing.assert_allclose(rainy.p50, [1.0] * 4 + [0.0] * (DAY - 4))
    assert (fallback.model, fallback.model_version) == ("arx", BUILTIN_VERSION)
    assert fallback.fallback == "rainy_test: no weather text forecast"


def test_pv_quantiles_are_zero_while_the_sun_is_down_and_within_capacity() -> None:
    golden = {"s": (39.74, -105.18)}  # Golden, Colorado (UTC-7); the windows end in November
    hours = (np.arange(7 * DAY) % DAY) / 4  # UTC hour of each step
    noise = np.random.default_rng(1).normal(0, 1.0, len(hours))
    sun = np.sin(np.pi * (hours - 14.2) / 9.4)  # up 07:12-16:36 local
    pv = np.where(sun > 0, np.clip(15 * sun + noise, 0, None), 0.0)
    (f,) = forecast_batch(
        [window(pv, quantity="pv_power")], CONFIG, capacities={"s": 12.0}, locations=golden
    )
    target_hours = (f.target_ts_ms % 86_400_000) / 3_600_000
    night = (target_hours >= 1) & (target_hours < 13)  # 18:00-06:00 local: dark
    day = (target_hours >= 17) & (target_hours < 22)  # 10:00-15:00 local
    for q in (f.p10, f.p50, f.p90):
        assert (q[night] == 0).all()
        assert ((q >= 0) & (q <= 12.0)).all()  # within capacity always
    assert (f.p90[day] > 0).all()
    # Without a location nothing is known of the sun: only the bounds apply.
    (unknown,) = forecast_batch([window(pv, quantity="pv_power")], CONFIG)
    assert (unknown.p50 >= 0).all()


def _as_one(y: np.ndarray) -> WindowBatch:
    nan = np.full(1, np.nan)
    exog = np.full((1, len(y) + DAY, 3), np.nan)
    return WindowBatch(y[None], exog, np.array([T0 + (len(y) - 1) * STEP]), STEP, DAY, nan, nan)


def test_a_rule_without_any_error_in_its_window_gives_a_band_not_certainty() -> None:
    y = np.full(7 * DAY, np.nan)
    y[-8:] = [92.0, 90.0, 95.0, 91.0, 93.0, 94.0, 92.0, 92.0]  # two hours after a long gap
    q = SeasonalNaive(1).predict_raw(_as_one(y))
    p10, p90 = q[0, :, LEVELS.index(0.1)], q[0, :, LEVELS.index(0.9)]
    assert (p90 - p10 > 2.0).all()  # the spread of the values seen, not p10 = p90
    lone = np.full(7 * DAY, np.nan)
    lone[-1] = 92.0
    q = Persistence().predict_raw(_as_one(lone))
    assert q[0, 0, LEVELS.index(0.9)] - q[0, 0, LEVELS.index(0.1)] > 100  # nothing known
