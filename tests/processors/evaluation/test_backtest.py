import numpy as np
import pytest

from gridbrain.processors.evaluation.backtest import (
    fit,
    mase_scale,
    plan_backtest,
    score,
    training_data,
)
from gridbrain.processors.forecast.arx import Arx
from gridbrain.processors.forecast.baselines import Persistence, SeasonalNaive
from gridbrain.processors.forecast.batch import LEVELS, sun_down
from gridbrain.processors.forecast.dataset import Series, split_origins, window_targets, windows_at

STEP = 3_600_000
DAY = 24


def series(site: str, days: int = 60, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    y = 50 + 20 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 2, len(t))
    return Series(site, "load", 1_704_067_200_000, STEP, y, np.full((len(t), 3), np.nan))


def test_split_keeps_targets_inside_their_part() -> None:
    parts = split_origins(1000, 48, 24, (0.7, 0.1), train_stride=1, test_stride=24)
    assert parts.train[-1] + 24 < 700 and parts.val[0] + 1 >= 700
    assert parts.val[-1] + 24 < 800 and parts.test[0] + 1 == 800
    assert parts.test[-1] + 24 < 1000
    assert np.all(np.diff(parts.test) == 24)


def test_windows_align_history_targets_and_weather() -> None:
    s = series("a", days=5)
    origin = np.array([50])
    batch = windows_at(s, origin, 48, 24, future_weather=False)
    np.testing.assert_allclose(batch.y[0], s.values[3:51], rtol=1e-6)
    np.testing.assert_array_equal(window_targets(s, origin, 24)[0], s.values[51:75])
    assert batch.last_ts_ms[0] == s.start_ms + 50 * STEP
    assert batch.target_ts_ms()[0, 0] == s.start_ms + 51 * STEP
    assert np.isnan(batch.exog[0, 48:]).all()  # no weather forecasts: unknown


def test_short_gaps_are_interpolated_only_in_training_targets() -> None:
    s = series("a", days=5)
    values = s.values.copy()
    values[60] = np.nan
    gappy = Series("a", "load", s.start_ms, STEP, values, s.exog)
    origin = np.array([50])
    assert np.isnan(window_targets(gappy, origin, 24)[0, 9])
    assert np.isfinite(window_targets(gappy, origin, 24, filled=True)[0, 9])


def test_backtest_of_two_series_scores_daily_origins() -> None:
    plan = plan_backtest([series("a"), series("b", seed=1)], lookback=7 * DAY, horizon=DAY)
    train_x, train_y = training_data(plan, "train")
    assert len(train_x) == len(train_y) > 0
    naive, last = SeasonalNaive(1), Persistence()
    for model in (naive, last):
        fit(model, plan)
    good, poor = score(naive, plan), score(last, plan)
    tests = sum(len(s.test) for s in plan.splits)
    assert good.metrics["windows"] == tests == len(good.actual)
    assert set(good.per_series) == {"a", "b"}
    assert good.metrics["mae"] < poor.metrics["mae"]
    assert good.metrics["mase"] < 1.2  # the seasonal naive on its own scale: about 1
    assert abs(good.metrics["coverage_80"] - 0.8) < 0.1


def test_mase_scale_is_the_seasonal_naive_mae() -> None:
    s = series("a", days=10)
    expected = np.mean(np.abs(s.values[DAY : 5 * DAY] - s.values[: 4 * DAY]))
    assert mase_scale(s, 5 * DAY) == expected


def test_pv_is_zero_at_night_calibrated_and_covered_on_daylight_only() -> None:
    days = 60
    hours = np.arange(days * DAY) % DAY  # UTC; Golden, Colorado is UTC-7 (sun ~14-24 UTC)
    sun = np.clip(np.sin(np.pi * (hours - 14) / 10), 0, None)
    rng = np.random.default_rng(0)
    y = 3.0 * sun * rng.uniform(0.5, 1.0, len(hours))
    pv = Series(
        "pv",
        "pv_power",
        1_704_067_200_000,
        STEP,
        y,
        np.full((len(y), 3), np.nan),
        39.74,
        -105.18,
        capacity=3.0,
    )
    plan = plan_backtest([pv], lookback=7 * DAY, horizon=DAY)
    batch, target = training_data(plan, "val")
    dark = sun_down(batch)
    assert dark.any() and np.isnan(target[dark]).all()  # left out of calibration
    assert np.isfinite(target[~dark & (target == target)]).all()
    naive = SeasonalNaive(1)
    fit(naive, plan)
    scored = score(naive, plan)
    test_batch = windows_at(pv, plan.splits[0].test, 7 * DAY, DAY, False)
    assert (scored.quantiles[sun_down(test_batch)] == 0).all()
    inside = (scored.actual >= scored.quantiles[..., LEVELS.index(0.1)]) & (
        scored.actual <= scored.quantiles[..., LEVELS.index(0.9)]
    )
    daylight = ~sun_down(test_batch)
    assert scored.metrics["coverage_80"] == pytest.approx(inside[daylight].mean())


def test_adaptive_band_follows_a_regime_change_and_keeps_the_median() -> None:
    calm = series("a", days=120)
    values = calm.values.copy()
    t = np.arange(96 * DAY, len(values))  # the last 20 %: the daily cycle's timing wanders
    phase = np.random.default_rng(5).uniform(-1.5, 1.5, len(t) // DAY).repeat(DAY)
    values[t] += 20 * (np.sin(2 * np.pi * t / DAY + phase) - np.sin(2 * np.pi * t / DAY))
    stormy = Series("a", "load", calm.start_ms, STEP, values, calm.exog)
    plan = plan_backtest([stormy], lookback=7 * DAY, horizon=DAY)
    model = Arx()  # its band is learnt on the calm validation weeks
    fit(model, plan)
    static = score(model, plan)
    adaptive = score(model, plan, band_rate=0.5)
    assert static.metrics["coverage_80"] < 0.6
    assert adaptive.metrics["coverage_80"] > 0.7
    assert adaptive.metrics["mae"] == pytest.approx(static.metrics["mae"])
    np.testing.assert_allclose(
        adaptive.quantiles[..., LEVELS.index(0.5)], static.quantiles[..., LEVELS.index(0.5)]
    )
    # the first test day only knows validation outcomes: its band is the static one's
    np.testing.assert_allclose(adaptive.quantiles[0], static.quantiles[0], rtol=0.05)
