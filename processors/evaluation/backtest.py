"""Rolling-origin back-tests: fit on the past, forecast from every test origin, score.

Every series is split by time (see :func:`~processors.forecast.dataset.split_origins`);
models are fitted on the training windows of all series together (global models learn
across sites), calibrated on the validation windows, and scored on the test origins.
"""

from dataclasses import dataclass

import numpy as np

from gridbrain.processors.evaluation.metrics import forecast_metrics
from gridbrain.processors.forecast.adaptive_band import track_band
from gridbrain.processors.forecast.base import Progress, QuantileModel, physical_quantiles
from gridbrain.processors.forecast.batch import WindowBatch, concat, sun_down, window_scale
from gridbrain.processors.forecast.dataset import (
    Series,
    SplitOrigins,
    split_origins,
    window_targets,
    windows_at,
)

__all__ = ["BacktestPlan", "Scored", "fit", "mase_scale", "plan_backtest", "score", "training_data"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class BacktestPlan:
    """Series, their split, and the window shape of one back-test."""

    series: list[Series]
    splits: list[SplitOrigins]
    lookback: int
    horizon: int
    future_weather: bool = False


def plan_backtest(
    series: list[Series],
    lookback: int,
    horizon: int,
    fractions: tuple[float, float] = (0.7, 0.1),
    origin_every: int | None = None,
    future_weather: bool = False,
    train_every: int | None = None,
) -> BacktestPlan:
    """Split every series; test origins every ``origin_every`` steps (default: a day).

    Training and validation origins are ``train_every`` steps apart (default: an hour).
    """
    step_ms = series[0].step_ms
    every = origin_every or _DAY_MS // step_ms
    stride = train_every or max(1, 3_600_000 // step_ms)
    splits = [split_origins(len(s), lookback, horizon, fractions, stride, every) for s in series]
    return BacktestPlan(series, splits, lookback, horizon, future_weather)


def training_data(plan: BacktestPlan, part: str) -> tuple[WindowBatch, np.ndarray]:
    """Windows and targets (short gaps interpolated) of ``part`` of every series.

    The validation targets of PV power at steps the sun never lights are left out (NaN):
    they are 0 by physics, and counting them would calibrate the daylight band on them.
    """
    batches, targets = [], []
    for series, split in zip(plan.series, plan.splits, strict=True):
        origins = getattr(split, part)
        batch = windows_at(series, origins, plan.lookback, plan.horizon, plan.future_weather)
        target = window_targets(series, origins, plan.horizon, filled=True)
        if part == "val" and series.quantity == "pv_power":
            target[sun_down(batch)] = np.nan
        batches.append(batch)
        targets.append(target)
    return concat(batches), np.concatenate(targets)


def mase_scale(series: Series, end: int) -> float:
    """MAE of the one-day seasonal naive over the first ``end`` steps (MASE's denominator)."""
    season = _DAY_MS // series.step_ms
    values = series.values[:end]
    return float(np.nanmean(np.abs(values[season:] - values[:-season])))


@dataclass(frozen=True)
class Scored:
    """A model's test forecasts and metrics.

    Attributes:
        model: the model's name.
        metrics: metrics averaged over the series (weighted by their test windows).
        per_series: site -> metrics.
        quantiles: every test forecast, (N, H, Q), series after series.
        actual: the observations, (N, H).
        origins_ms: start of each window's newest step, (N,).
        sites: the site of each window, (N,).
    """

    model: str
    metrics: dict[str, float]
    per_series: dict[str, dict[str, float]]
    quantiles: np.ndarray
    actual: np.ndarray
    origins_ms: np.ndarray
    sites: np.ndarray


def fit(model: QuantileModel, plan: BacktestPlan, progress: Progress | None = None) -> None:
    """Fit ``model`` on the plan's training windows, calibrate on its validation ones."""
    model.fit(training_data(plan, "train"), training_data(plan, "val"), progress)


def _tracked(
    series: Series, batch: WindowBatch, quantiles: np.ndarray, actual: np.ndarray, rate: float
) -> np.ndarray:
    """Test quantiles with the band tracked online (:func:`track_band`).

    Tracking before the physical clipping misses nothing: an outcome cannot pass a bound.
    """
    if series.quantity == "pv_power":  # the daylight band is tracked on daylight
        actual = np.where(sun_down(batch), np.nan, actual)
    known = batch.last_ts_ms + batch.horizon * series.step_ms
    scale = window_scale(batch.y)[1][:, 0]
    return track_band(quantiles, actual, batch.last_ts_ms, known, scale, rate)


def score(model: QuantileModel, plan: BacktestPlan, band_rate: float = 0.0) -> Scored:
    """Forecast every test origin of every series and score the forecasts.

    With a ``band_rate`` the band is tracked online as the stream does (:func:`track_band`,
    that step per day), from the outcomes known before each origin.
    """
    per_series: dict[str, dict[str, float]] = {}
    parts = []
    for series, split in zip(plan.series, plan.splits, strict=True):
        capacity = series.capacity or float(np.nanmax(series.values[: split.val[-1]]))
        batch = windows_at(series, split.test, plan.lookback, plan.horizon, plan.future_weather)
        actual = window_targets(series, split.test, plan.horizon)
        quantiles = model.forecast(batch)
        if band_rate > 0:
            quantiles = _tracked(series, batch, quantiles, actual, band_rate)
        quantiles = physical_quantiles(quantiles, batch, series.quantity, capacity)
        is_power = series.quantity in ("pv_power", "wind_power")
        per_series[series.site_id] = forecast_metrics(
            quantiles,
            actual,
            mase_scale(series, int(split.train[-1]) + 1),
            capacity if is_power else None,
            ~sun_down(batch) if series.quantity == "pv_power" else None,
        )
        parts.append((quantiles, actual, batch.last_ts_ms, np.full(len(actual), series.site_id)))
    weights = np.array([m["windows"] for m in per_series.values()], dtype=np.float64)
    metrics = {
        key: float(np.average([m[key] for m in per_series.values()], weights=weights))
        for key in next(iter(per_series.values()))
        if key != "windows"
    }
    metrics["windows"] = float(weights.sum())
    return Scored(
        model.name,
        metrics,
        per_series,
        *(np.concatenate([p[i] for p in parts]) for i in range(4)),
    )
