"""What every forecasting model reads: a batch of equally long series windows.

A window is the history of one series up to an issue time plus the weather known for the
horizon (forecasts in the stream; NaN where unknown). Models derive their covariates from
it: calendar terms and the sun's elevation at each target step, and the weather.
"""

import math
from dataclasses import dataclass, replace

import numpy as np
from pvlib import solarposition

__all__ = [
    "LEVELS",
    "P10",
    "P50",
    "P90",
    "WindowBatch",
    "calendar_features",
    "concat",
    "fill_history",
    "sun_down",
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
        text: weather text of every target step and place (a station, a city), shape
            (B, H, C), ``""`` where unknown; None: no text (only text models read it).
        calendar: each window's site calendar (a
            :class:`~processors.forecast.local_calendar.LocalCalendar` or None), shape (B,)
            of objects; None: none known.
    """

    y: np.ndarray
    exog: np.ndarray
    last_ts_ms: np.ndarray
    step_ms: int
    horizon: int
    latitude: np.ndarray
    longitude: np.ndarray
    text: np.ndarray | None = None
    calendar: np.ndarray | None = None

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
            None if self.text is None else self.text[index],
            None if self.calendar is None else self.calendar[index],
        )

    def with_text(self, text: np.ndarray) -> "WindowBatch":
        """These windows with the weather text (B, H, C) of their target steps.

        >>> b = WindowBatch(np.zeros((1, 3)), np.zeros((1, 4, 0)), np.zeros(1), 1, 1,
        ...                 np.full(1, np.nan), np.full(1, np.nan))
        >>> b.with_text(np.array([[["fog"]]])).take(slice(0, 1)).text.tolist()
        [[['fog']]]
        """
        return replace(self, text=np.asarray(text, dtype=object))

    def target_ts_ms(self) -> np.ndarray:
        """Start of every target step, shape (B, H)."""
        steps = np.arange(1, self.horizon + 1, dtype=np.int64) * self.step_ms
        return self.last_ts_ms[:, None].astype(np.int64) + steps[None, :]


def concat(batches: list[WindowBatch]) -> WindowBatch:
    """One batch of the windows of several (same step, lookback and horizon).

    The text is kept where every batch has text of the same number of places.
    """
    first = batches[0]
    texts = [b.text for b in batches if b.text is not None]
    same = len(texts) == len(batches) and len({t.shape[2:] for t in texts}) == 1
    text = np.concatenate(texts) if same else None
    calendar = None
    if any(b.calendar is not None for b in batches):
        calendar = np.concatenate(
            [
                np.full(len(b), None, dtype=object) if b.calendar is None else b.calendar
                for b in batches
            ]
        )
    return WindowBatch(
        np.concatenate([b.y for b in batches]),
        np.concatenate([b.exog for b in batches]),
        np.concatenate([b.last_ts_ms for b in batches]),
        first.step_ms,
        first.horizon,
        np.concatenate([b.latitude for b in batches]),
        np.concatenate([b.longitude for b in batches]),
        text,
        calendar,
    )


def fill_history(y: np.ndarray) -> np.ndarray:
    """Linear interpolation inside each row, nearest value at the ends; all-NaN rows -> 0.

    Vectorised over the rows, with :func:`numpy.interp`'s arithmetic.

    >>> fill_history(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]]))
    array([[1., 1., 2., 3., 3.]])
    """
    out = np.array(y, dtype=np.float64)
    missing = ~np.isfinite(out)
    if not missing.any():
        return out
    length = out.shape[1]
    index = np.broadcast_to(np.arange(length), out.shape)
    prev = np.maximum.accumulate(np.where(missing, -1, index), axis=1)
    nxt = np.minimum.accumulate(np.where(missing, length, index)[:, ::-1], axis=1)[:, ::-1]
    p = np.where(prev >= 0, prev, nxt).clip(0, length - 1)  # nearest value at the ends
    q = np.where(nxt < length, nxt, prev).clip(0, length - 1)
    vp = np.take_along_axis(out, p, axis=1)
    vq = np.take_along_axis(out, q, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (vq - vp) / (q - p)
        inner = slope * (index - p) + vp
    filled = np.where(q > p, inner, vp)
    filled = np.where(missing, filled, out)
    filled[~np.isfinite(filled)] = 0.0  # rows without any value
    return filled


def window_scale(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each window's history, shape (B, 1) each.

    Flat or empty windows get a scale of 1 (relative to their level), so that normalised
    values and errors stay finite.
    """
    finite = np.isfinite(y)
    if finite.all():  # the same sums without the masks
        count = np.full((len(y), 1), y.shape[1])
        mean = y.sum(axis=1, keepdims=True) / np.maximum(count, 1)
        var = ((y - mean) ** 2).sum(axis=1, keepdims=True) / np.maximum(count, 1)
    else:
        count = finite.sum(axis=1, keepdims=True)
        filled = np.where(finite, y, 0.0)
        mean = filled.sum(axis=1, keepdims=True) / np.maximum(count, 1)
        var = (np.where(finite, y - mean, 0.0) ** 2).sum(axis=1, keepdims=True)
        var = var / np.maximum(count, 1)
    std = np.sqrt(var)
    floor = 1e-6 * (1.0 + np.abs(mean))
    return mean, np.where(std > floor, std, np.maximum(1.0, floor))


def _day_of_year(ts_ms: np.ndarray) -> np.ndarray:
    """Day of the year (1-based) of epoch milliseconds (as the solar module counts)."""
    days = ts_ms.astype(np.int64).astype("datetime64[ms]").astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    return np.asarray((days - years).astype(np.int64) + 1, dtype=np.float64)


def _sun_sine(ts_ms: np.ndarray, latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """``max(sin(solar elevation), 0)`` at each time (B, H) of sites (B,).

    The formulas of :func:`~processors.quality.solar.solar_elevation_deg`, with each
    day's declination and equation of time computed once (few days span a batch).
    """
    days = ts_ms // _DAY_MS
    first = int(days.min())
    table_days = np.arange(first, int(days.max()) + 1)
    if len(table_days) > days.size:  # sparse days: compute each element's own
        table_days, index = np.unique(days, return_inverse=True)
        index = index.reshape(days.shape)
    else:
        index = days - first
    day_of_year = _day_of_year(table_days * _DAY_MS)
    declination = solarposition.declination_spencer71(day_of_year)
    equation_of_time = solarposition.equation_of_time_spencer71(day_of_year)[index]
    utc_hours = (ts_ms.astype(np.float64) % _DAY_MS) / 3_600_000.0
    hour_angle = np.radians(15.0 * (utc_hours - 12.0) + longitude[:, None] + equation_of_time / 4.0)
    lat = np.radians(latitude)[:, None]
    cos_dec, sin_dec = np.cos(declination)[index], np.sin(declination)[index]
    cos_zenith = cos_dec * np.cos(lat) * np.cos(hour_angle) + sin_dec * np.sin(lat)
    # sin(elevation) = cos(zenith); as the elevation's sine, kept within [-1, 1].
    return np.maximum(np.clip(cos_zenith, -1.0, 1.0), 0.0)


def sun_down(batch: WindowBatch) -> np.ndarray:
    """Target steps with the sun below the horizon from start to end, shape (B, H).

    False where the site's location is unknown.
    """
    start = batch.target_ts_ms()
    known = np.isfinite(batch.latitude) & np.isfinite(batch.longitude)
    out = np.zeros(start.shape, dtype=bool)
    if known.any():
        lat, lon = batch.latitude[known], batch.longitude[known]
        at_start = _sun_sine(start[known], lat, lon)
        at_end = _sun_sine(start[known] + batch.step_ms, lat, lon)
        out[known] = (at_start <= 0) & (at_end <= 0)
    return out


def calendar_features(batch: WindowBatch) -> np.ndarray:
    """Known-future covariates of every target step, shape (B, H, 5).

    Time of day and day of week (sine, cosine; UTC) and the sine of the sun's elevation
    (0 where the site's location is unknown or the sun is down).
    """
    target = batch.target_ts_ms()
    out = np.empty((*target.shape, 5))
    day = 2 * math.pi * np.remainder(target, _DAY_MS) / _DAY_MS
    week = 2 * math.pi * np.remainder(target, _WEEK_MS) / _WEEK_MS
    np.sin(day, out=out[..., 0])
    np.cos(day, out=out[..., 1])
    np.sin(week, out=out[..., 2])
    np.cos(week, out=out[..., 3])
    out[..., 4] = 0.0
    known = np.isfinite(batch.latitude) & np.isfinite(batch.longitude)
    if known.any():
        mid = target[known] + batch.step_ms // 2
        out[known, :, 4] = _sun_sine(mid, batch.latitude[known], batch.longitude[known])
    return out
