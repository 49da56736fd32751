"""Online conformal calibration: quantile tracking of the p10-p90 band (conformal PID's P).

A model's band is calibrated once, on validation windows. When the regime changes (a
windier season, a new load pattern) its coverage drifts. A :class:`BandTracker` keeps it:
after each issue whose outcomes are known, the shift of its lower levels moves down by
``rate * (share below p10 - 0.1)`` and that of its upper levels up by ``rate * (share
above p90 - 0.1)`` (Angelopoulos, Candès & Tibshirani, 2023: quantile tracking, whose
long-run miss rate is the target whatever the data). Shifts are in units of each window's
scale (its history's standard deviation) and spread over the levels as a normal
distribution would (p05 moves 1.28 times as far as p10, p40 0.2 times); the median never
moves and no level crosses it.

The tracker reads only misses of the band as it was issued, so the served path can keep
it from stored forecasts and readings alone (``storage.band_trackers``) and the back-test
runs the same updates in time order (:func:`track_band`).
"""

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from gridbrain.processors.forecast.base import sort_levels
from gridbrain.processors.forecast.batch import LEVELS, P50

__all__ = ["DAY_MS", "LIMIT", "BandTracker", "IssueMisses", "follow", "misses", "track_band"]

#: Shifts stay within this many window scales (a band no outcome falls in cannot run away).
LIMIT = 5.0
_Z = np.array([NormalDist().inv_cdf(level) for level in LEVELS])
#: Per level, its share of the lower (negative) or upper shift.
_LOWER = np.arange(len(LEVELS)) < P50
_SPREAD = np.where(_LOWER, _Z / _Z[LEVELS.index(0.1)], _Z / _Z[LEVELS.index(0.9)])
_SPREAD[P50] = 0.0
_MISS = 0.1  # below p10, and above p90
DAY_MS = 86_400_000


@dataclass(frozen=True)
class BandTracker:
    """Shifts of a series' band, in window scales: ``low`` for p10 (and below), ``high`` p90.

    >>> BandTracker().update(below=0.3, above=0.1, weight=1.0, rate=0.5)
    BandTracker(low=-0.1, high=0.0)
    """

    low: float = 0.0
    high: float = 0.0

    def update(self, below: float, above: float, weight: float, rate: float) -> "BandTracker":
        """After an issue whose outcomes fell ``below`` p10 and ``above`` p90 (shares).

        ``weight`` is the issue's share of a day (issues overlap: a day of hourly issues
        moves the band as much as one daily issue), ``rate`` the step per day.
        """
        step = rate * weight
        low = self.low - step * (below - _MISS)
        high = self.high + step * (above - _MISS)
        return BandTracker(
            round(float(np.clip(low, -LIMIT, LIMIT)), 12),
            round(float(np.clip(high, -LIMIT, LIMIT)), 12),
        )

    def apply(self, quantiles: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Quantiles (B, H, Q) with the shifts times each window's ``scale`` (B,)."""
        if self.low == 0.0 and self.high == 0.0:
            return quantiles
        spread = np.where(_LOWER, self.low, self.high) * _SPREAD
        moved = quantiles + spread * np.asarray(scale, dtype=np.float64)[:, None, None]
        median = quantiles[..., P50 : P50 + 1]
        moved[..., :P50] = np.minimum(moved[..., :P50], median)
        moved[..., P50 + 1 :] = np.maximum(moved[..., P50 + 1 :], median)
        return sort_levels(moved)


@dataclass(frozen=True)
class IssueMisses:
    """How the outcomes of one issue fell: shares below its p10 and above its p90."""

    issued_ms: int
    below: float
    above: float


def follow(
    tracker: BandTracker,
    through_ms: int | None,
    issues: list[IssueMisses],
    rate: float,
    day_ms: int = DAY_MS,
) -> tuple[BandTracker, int | None]:
    """The tracker after ``issues`` (in issue order), and the newest issue counted.

    Each issue weighs its share of a day since the one before (``through_ms``; a day at
    most, and a whole day for the first one ever).

    >>> tracker, through = follow(BandTracker(), None, [IssueMisses(0, 0.4, 0.1)], rate=0.1)
    >>> tracker, through
    (BandTracker(low=-0.03, high=0.0), 0)
    """
    for issue in issues:
        gap = day_ms if through_ms is None else issue.issued_ms - through_ms
        tracker = tracker.update(issue.below, issue.above, min(1.0, gap / day_ms), rate)
        through_ms = issue.issued_ms
    return tracker, through_ms


def misses(issued_ms: int, quantiles: np.ndarray, actual: np.ndarray) -> IssueMisses | None:
    """How the known outcomes (H,) of one issue (H, Q) fell; None without any."""
    known = np.isfinite(actual)
    if not known.any():
        return None
    y = actual[known]
    below = float(np.mean(y < quantiles[known, LEVELS.index(0.1)]))
    above = float(np.mean(y > quantiles[known, LEVELS.index(0.9)]))
    return IssueMisses(issued_ms, below, above)


def track_band(
    quantiles: np.ndarray,
    actual: np.ndarray,
    last_ts_ms: np.ndarray,
    known_ms: np.ndarray,
    scale: np.ndarray,
    rate: float,
    day_ms: int = 86_400_000,
) -> np.ndarray:
    """The issues (N, H, Q) of one series, in time order, each with the tracked band.

    Before each issue the tracker takes in every earlier issue whose outcomes were all
    known by then (``known_ms`` <= its time), in the order they became known, each as
    issued; ``actual`` NaN steps are not counted (PV's dark steps: a 0 in a band of zeros
    says nothing of the daylight band).

    >>> q = np.tile(np.linspace(-1, 1, len(LEVELS)), (30, 24, 1))  # too narrow a band
    >>> y = np.random.default_rng(0).normal(0, 3, (30, 24))
    >>> t = np.arange(30) * 24
    >>> out = track_band(q, y, t, t + 24, np.ones(30), rate=1.0, day_ms=24)
    >>> bool(out[-1, 0, -2] > 2 * q[-1, 0, -2])  # p90 moved out
    True
    """
    out = np.array(quantiles, dtype=np.float64, copy=True)
    tracker, through = BandTracker(), None
    taken = 0
    order = np.argsort(known_ms, kind="stable")
    for i in range(len(out)):
        while taken < len(order) and known_ms[order[taken]] <= last_ts_ms[i]:
            j = int(order[taken])
            issue = misses(int(last_ts_ms[j]), out[j], actual[j])
            if issue is not None:
                tracker, through = follow(tracker, through, [issue], rate, day_ms)
            taken += 1
        out[i] = tracker.apply(out[i : i + 1], scale[i : i + 1])[0]
    return out
