"""Regular series for training and back-testing, and the windows cut from them.

A :class:`Series` is one quantity at one site on a regular step grid, with the weather
aligned to it. Windows end at chosen *origins* (the index of the newest history step);
the data is split by time into training, validation and test origins, so that no window
used for fitting sees a test target.
"""

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from gridbrain.processors.forecast.batch import WindowBatch
from gridbrain.processors.forecast.local_calendar import LocalCalendar
from gridbrain.processors.quality.gaps import fill_short_gaps

__all__ = [
    "Series",
    "SplitOrigins",
    "padded",
    "split_origins",
    "window_targets",
    "windows_at",
]


@dataclass(frozen=True)
class Series:
    """One quantity of one site on a regular grid.

    Attributes:
        site_id: the site.
        quantity: the quantity (``load``, ``pv_power``, ...).
        start_ms: start of the first step.
        step_ms: step length.
        values: the quantity per step, NaN where missing, shape (N,).
        exog: weather per step (``EXOG_VARIABLES`` order), NaN where missing, shape (N, E).
        latitude: site latitude (NaN: unknown).
        longitude: site longitude (NaN: unknown).
        capacity: rated power for PV and wind (None: unknown).
        text: weather text per step (``""`` where none), shape (N,); None: no text.
        calendar: the site's local calendar (None: unknown).
    """

    site_id: str
    quantity: str
    start_ms: int
    step_ms: int
    values: np.ndarray
    exog: np.ndarray
    latitude: float = float("nan")
    longitude: float = float("nan")
    capacity: float | None = None
    text: np.ndarray | None = None
    calendar: LocalCalendar | None = None

    def __len__(self) -> int:
        return len(self.values)

    @cached_property
    def filled(self) -> np.ndarray:
        """``values`` with gaps of up to 4 steps interpolated: the training targets.

        Half-hourly data on a 15-minute grid so trains every step; scores use ``values``.
        """
        return fill_short_gaps(self.values, 4)[0]


def padded(series: Series, steps: int) -> Series:
    """``series`` with ``steps`` unknown steps appended: windows may end at its last step.

    >>> s = Series("s", "load", 0, 60_000, np.ones(3), np.zeros((3, 2)))
    >>> p = padded(s, 2)
    >>> len(p), np.isnan(p.values[3:]).all(), p.exog.shape
    (5, np.True_, (5, 2))
    """
    return replace(
        series,
        values=np.concatenate([series.values, np.full(steps, np.nan)]),
        exog=np.concatenate([series.exog, np.full((steps, series.exog.shape[1]), np.nan)]),
        text=None
        if series.text is None
        else np.concatenate([series.text, np.full(steps, "", dtype=object)]),
    )


def windows_at(
    series: Series, origins: np.ndarray, lookback: int, horizon: int, future_weather: bool
) -> WindowBatch:
    """Windows whose newest history step is at each index of ``origins``.

    Args:
        series: the series.
        origins: indices, each >= lookback - 1 and < len(series) - horizon.
        lookback: history steps L.
        horizon: steps ahead H.
        future_weather: give the models the weather of the target steps (a stand-in for
            weather forecasts); False leaves it unknown (NaN), as without forecasts. The
            same holds for the weather text of a series that has text (``""``: unknown).
    """
    offsets = np.arange(-lookback + 1, horizon + 1)
    rows = origins[:, None] + offsets[None, :]
    exog = series.exog[rows].astype(np.float32)
    if not future_weather:
        exog[:, lookback:] = np.nan
    n = len(origins)
    batch = WindowBatch(
        y=series.values[rows[:, :lookback]].astype(np.float32),
        exog=exog,
        last_ts_ms=series.start_ms + origins.astype(np.int64) * series.step_ms,
        step_ms=series.step_ms,
        horizon=horizon,
        latitude=np.full(n, series.latitude),
        longitude=np.full(n, series.longitude),
        calendar=None if series.calendar is None else np.full(n, series.calendar, dtype=object),
    )
    if series.text is None:
        return batch
    text = series.text[rows[:, lookback:]] if future_weather else np.full((n, horizon), "")
    return batch.with_text(text.astype(object)[:, :, None])


def window_targets(
    series: Series, origins: np.ndarray, horizon: int, filled: bool = False
) -> np.ndarray:
    """Values of each window's target steps, shape (len(origins), H).

    Args:
        series: the series.
        origins: window ends.
        horizon: steps ahead.
        filled: take short gaps interpolated (training) rather than only measured values.
    """
    values = series.filled if filled else series.values
    return values[origins[:, None] + np.arange(1, horizon + 1)[None, :]]


@dataclass(frozen=True)
class SplitOrigins:
    """Origins of the training, validation and test windows of one series."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_origins(
    length: int,
    lookback: int,
    horizon: int,
    fractions: tuple[float, float] = (0.7, 0.1),
    train_stride: int = 4,
    test_stride: int = 96,
) -> SplitOrigins:
    """Origins split by time: the first ``fractions[0]`` of the steps train, the next validate.

    Targets never cross a boundary: a window belongs to a part only if all its targets
    do. Training and validation origins are ``train_stride`` steps apart; test origins
    (the rolling origins of a back-test) ``test_stride`` apart.

    >>> parts = split_origins(1000, 100, 10, (0.6, 0.2), train_stride=1, test_stride=50)
    >>> int(parts.train[0]), int(parts.train[-1]), int(parts.val[0]), parts.test.tolist()
    (99, 589, 599, [799, 849, 899, 949])
    """
    train_end = round(length * fractions[0])
    val_end = round(length * (fractions[0] + fractions[1]))

    def part(first_target: int, end: int, stride: int) -> np.ndarray:
        first = max(lookback - 1, first_target - 1)
        return np.arange(first, end - horizon, stride, dtype=np.int64)

    return SplitOrigins(
        part(0, train_end, train_stride),
        part(train_end, val_end, train_stride),
        part(val_end, length, test_stride),
    )
