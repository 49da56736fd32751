"""A load that only the local calendar explains: work days 40 above weekends and holidays."""

from dataclasses import dataclass

import numpy as np

from gridbrain.processors.forecast.batch import WindowBatch
from gridbrain.processors.forecast.dataset import Series, split_origins, window_targets, windows_at
from gridbrain.processors.forecast.local_calendar import LocalCalendar

HOUR, DAY = 3_600_000, 24
MADRID = LocalCalendar("Europe/Madrid", "ES")


@dataclass(frozen=True)
class Workdays:
    """Two years of hourly load in Madrid (2017-2018), split 60/20/20.

    Attributes:
        series: the load, with Madrid's calendar.
        local: local hour, weekday and holiday of every step (N, 3).
        train, val: (windows, targets) a week long, a day ahead.
        holidays: test origins whose next day holds a holiday on a weekday.
        off: the holiday steps of those windows (len(holidays), DAY).
    """

    series: Series
    local: np.ndarray
    train: tuple[WindowBatch, np.ndarray]
    val: tuple[WindowBatch, np.ndarray]
    holidays: np.ndarray
    off: np.ndarray

    def part(self, origins: np.ndarray) -> tuple[WindowBatch, np.ndarray]:
        """Windows and targets at ``origins``."""
        return _cut(self.series, origins)


def _cut(series: Series, origins: np.ndarray) -> tuple[WindowBatch, np.ndarray]:
    return windows_at(series, origins, 7 * DAY, DAY, False), window_targets(series, origins, DAY)


def workdays() -> Workdays:
    """The data set (about 1 s to build)."""
    start = 1_483_228_800_000  # 2017-01-01 00:00 UTC
    ts = start + np.arange(2 * 365 * DAY, dtype=np.int64) * HOUR
    local = MADRID.features(ts)
    work = (local[:, 1] < 5) & (local[:, 2] == 0)
    noise = np.random.default_rng(3).normal(0, 2, len(ts))
    y = 100 + 30 * np.sin(2 * np.pi * local[:, 0] / 24) + 40 * work + noise
    series = Series("es", "load", start, HOUR, y, np.full((len(ts), 3), np.nan), calendar=MADRID)
    split = split_origins(len(ts), 7 * DAY, DAY, (0.6, 0.2), 3, DAY)
    holidays = np.array(
        [o for o in split.test if local[o + 1 : o + 1 + DAY, 2].any() and local[o + 12, 1] < 5]
    )
    off = local[holidays[:, None] + np.arange(1, DAY + 1), 2] == 1
    return Workdays(
        series, local, _cut(series, split.train), _cut(series, split.val), holidays, off
    )
