"""Baselines: persistence and seasonal naive (a day or a week back).

Their quantiles are the point forecast plus empirical quantiles of the same rule's errors
inside the window (by horizon), so they answer sensibly before any training; fitting adds
only the calibration of :class:`~processors.forecast.base.QuantileModel`.
"""

import warnings
from statistics import NormalDist
from typing import Any

import numpy as np
from typing_extensions import override

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.base import QuantileModel
from gridbrain.processors.forecast.batch import LEVELS, WindowBatch, fill_history

__all__ = ["Persistence", "SeasonalNaive", "nan_quantiles"]

_DAY_MS = 86_400_000


def nan_quantiles(values: np.ndarray, levels: tuple[float, ...] = LEVELS) -> np.ndarray:
    """Quantiles over the last axis ignoring NaN, shape (*values.shape[:-1], len(levels)).

    One sort for every level (linear interpolation as numpy's default); all-NaN rows
    give NaN.

    >>> nan_quantiles(np.array([[1.0, np.nan, 3.0, 2.0]]), (0.0, 0.5, 1.0)).tolist()
    [[1.0, 2.0, 3.0]]
    """
    valid = np.isfinite(values)
    count = valid.sum(axis=-1, keepdims=True)
    ordered = np.sort(np.where(valid, values, np.inf), axis=-1)
    out = []
    for level in levels:
        pos = np.maximum(count - 1, 0) * level
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        low = np.take_along_axis(ordered, lo, axis=-1)
        high = np.take_along_axis(ordered, hi, axis=-1)
        with np.errstate(invalid="ignore"):
            value = low + (high - low) * (pos - lo)
        out.append(np.where(count > 0, value, np.nan)[..., 0])
    return np.stack(out, axis=-1)


#: Standard normal quantiles of the levels.
_Z = np.array([NormalDist().inv_cdf(level) for level in LEVELS])


def _unknown_spread(y: np.ndarray) -> np.ndarray:
    """A band for windows without a single error of their rule (B, 1, Q): no false certainty.

    Normal quantiles with the spread of the observed values, or with the size of their
    level where fewer than two (or only equal) values are observed.

    >>> band = _unknown_spread(np.array([[np.nan, 90.0, np.nan]]))[0, 0]
    >>> round(float(band[LEVELS.index(0.1)]), 1), round(float(band[LEVELS.index(0.9)]), 1)
    (-115.3, 115.3)
    """
    observed = np.isfinite(y)
    count = observed.sum(axis=1)
    with warnings.catch_warnings():  # windows without any value: NaN, set below
        warnings.simplefilter("ignore", RuntimeWarning)
        std = np.nanstd(y, axis=1)
        level = np.abs(np.nanmean(y, axis=1))
    width = np.where((count >= 2) & (std > 0), std, np.maximum(np.nan_to_num(level), 1.0))
    return width[:, None, None] * _Z[None, None, :]


class _LagRule(QuantileModel):
    """Forecast y[t+h] by y[t+h-lag(h)]: persistence and seasonal naive."""

    def lags(self, batch: WindowBatch) -> np.ndarray:
        """How far back each horizon step looks, shape (H,), each in 1..L."""
        raise NotImplementedError

    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        y = fill_history(batch.y)
        length = batch.lookback
        lags = self.lags(batch)
        h = np.arange(1, batch.horizon + 1)
        point = y[:, length - 1 + h - lags]  # (B, H)
        errors = np.full((len(y), batch.horizon, length), np.nan)
        for lag in np.unique(lags):  # the rule's errors inside the window, by lag
            if lag < length:
                diff = batch.y[:, lag:] - batch.y[:, :-lag]
                errors[:, lags == lag, : length - lag] = diff[:, None, :]
        spread = nan_quantiles(errors)  # (B, H, Q)
        pooled = nan_quantiles(errors.reshape(len(y), -1))[:, None, :]
        spread = np.where(np.isnan(spread), pooled, spread)
        return point[..., None] + np.where(np.isnan(spread), _unknown_spread(batch.y), spread)


class Persistence(_LagRule):
    """The last value, for every horizon step."""

    kind = "persistence"

    @override
    def lags(self, batch: WindowBatch) -> np.ndarray:
        return np.arange(1, batch.horizon + 1)


class SeasonalNaive(_LagRule):
    """The value one season (``days`` days) before each target, repeated past one season."""

    kind = "seasonal_naive"

    def __init__(self, days: int = 1) -> None:
        super().__init__()
        self.days = days

    @property
    def name(self) -> str:
        """``seasonal_naive`` (a day) or ``seasonal_naive_7d``."""
        return self.kind if self.days == 1 else f"{self.kind}_{self.days}d"

    @override
    def config(self) -> dict[str, Any]:
        return {"days": self.days}

    @override
    def lags(self, batch: WindowBatch) -> np.ndarray:
        season = self.days * _DAY_MS // batch.step_ms
        if season > batch.lookback:
            raise ModelError(f"{self.name} needs {season} steps of history")
        h = np.arange(1, batch.horizon + 1)
        return season * np.ceil(h / season).astype(np.int64)
