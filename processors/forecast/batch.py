"""What every forecasting model reads: a batch of equally long series windows.

A window is the history of one series up to an issue time plus the weather known for the
horizon (forecasts in the stream; NaN where unknown). Models derive their covariates from
it: calendar terms and the sun's elevation at each target step, and the weather.
"""

import math
from dataclasses import dataclass

import numpy as np

from gridbrain.processors.quality.solar import solar_elevation_deg

__all__ = [
    "LEVELS",
    "P10",
    "P50",
    "P90",
    "WindowBatch",
    "calendar_features",
    "concat",
    "fill_history",
    "window_scale",
]

#: Quantile levels every model predicts, in order (the stream stores p10/p50/p90).
LEVELS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
P10, P50, P90 = LEVELS.index(0.1), LEVELS.index(0.5), LEVELS.index(0.9)
_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS


@dataclass(frozen=True)
class WindowBatch:
    """Windows of B series, each L steps of history and H steps ahead.

    Attributes:
        y: history, NaN where missing, shape (B, L).
        exog: weather over history and horizon, NaN where unknown, shape (B, L + H, E).
        last_ts_ms: start of each window's newest step, shape (B,).
        step_ms: step length in milliseconds.
        horizon: steps ahead, H.
        latitude: site latitude in degrees, NaN where unknown, shape (B,).
        longitude: site longitude in degrees, NaN where unknown, shape (B,).
    """

    y: np.ndarray
    exog: np.ndarray
    last_ts_ms: np.ndarray
    step_ms: int
    horizon: int
    latitude: np.ndarray
    longitude: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @property
    def lookback(self) -> int:
        """History length L."""
        return int(self.y.shape[1])

    def take(self, index: np.ndarray | slice) -> "WindowBatch":
        """The windows at ``index``."""
        return WindowBatch(
            self.y[index],
            self.exog[index],
            self.last_ts_ms[index],
            self.step_ms,
            self.horizon,
            self.latitude[index],
            self.longitude[index],
        )

    def target_ts_ms(self) -> np.ndarray:
        """Start of every target step, shape (B, H)."""
        steps = np.arange(1, self.horizon + 1, dtype=np.int64) * self.step_ms
        return self.last_ts_ms[:, None].astype(np.int64) + steps[None, :]


def concat(batches: list[WindowBatch]) -> WindowBatch:
    """One batch of the windows of several (same step, lookback and horizon)."""
    first = batches[0]
    return WindowBatch(
        np.concatenate([b.y for b in batches]),
        np.concatenate([b.exog for b in batches]),
        np.concatenate([b.last_ts_ms for b in batches]),
        first.step_ms,
        first.horizon,
        np.concatenate([b.latitude for b in batches]),
        np.concatenate([b.longitude for b in batches]),
    )


def fill_history(y: np.ndarray) -> np.ndarray:
    """Linear interpolation inside each row, nearest value at the ends; all-NaN rows -> 0.

    >>> fill_history(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]]))
    array([[1., 1., 2., 3., 3.]])
    """
    out = np.array(y, dtype=np.float64)
    positions = np.arange(out.shape[1])
    for i in np.flatnonzero(~np.isfinite(out).all(axis=1)):
        row = out[i]
        ok = np.isfinite(row)
        out[i] = np.interp(positions, positions[ok], row[ok]) if ok.any() else 0.0
    return out


def window_scale(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each window's history, shape (B, 1) each.

    Flat or empty windows get a scale of 1 (relative to their level), so that normalised
    values and errors stay finite.
    """
    finite = np.isfinite(y)
    count = finite.sum(axis=1, keepdims=True)
    filled = np.where(finite, y, 0.0)
    mean = filled.sum(axis=1, keepdims=True) / np.maximum(count, 1)
    var = (np.where(finite, y - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / np.maximum(count, 1)
    std = np.sqrt(var)
    floor = 1e-6 * (1.0 + np.abs(mean))
    return mean, np.where(std > floor, std, np.maximum(1.0, floor))


def calendar_features(batch: WindowBatch) -> np.ndarray:
    """Known-future covariates of every target step, shape (B, H, 5).

    Time of day and day of week (sine, cosine; UTC) and the sine of the sun's elevation
    (0 where the site's location is unknown or the sun is down).
    """
    target = batch.target_ts_ms()
    day = 2 * math.pi * np.remainder(target, _DAY_MS) / _DAY_MS
    week = 2 * math.pi * np.remainder(target, _WEEK_MS) / _WEEK_MS
    mid = target + batch.step_ms // 2
    lat = np.broadcast_to(batch.latitude[:, None], target.shape)
    lon = np.broadcast_to(batch.longitude[:, None], target.shape)
    known = np.isfinite(lat) & np.isfinite(lon)
    sun = np.zeros(target.shape)
    if known.any():
        elevation = solar_elevation_deg(mid[known], lat[known], lon[known])
        sun[known] = np.maximum(np.sin(np.radians(elevation)), 0.0)
    return np.stack([np.sin(day), np.cos(day), np.sin(week), np.cos(week), sun], axis=-1)
