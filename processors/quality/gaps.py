"""Gaps in resampled series: interpolate the short ones, flag all, measure completeness."""

from dataclasses import dataclass

import numpy as np

__all__ = ["GapFill", "completeness", "fill_gap", "fill_short_gaps"]


@dataclass(frozen=True)
class GapFill:
    """What to do with the steps missing between two observed steps of a series.

    Attributes:
        ts_ms: start of each missing step.
        values: linearly interpolated values, or None when the gap is too long to fill.
    """

    ts_ms: list[int]
    values: list[float] | None

    @property
    def steps(self) -> int:
        """Number of missing steps."""
        return len(self.ts_ms)


def fill_gap(
    before: tuple[int, float], after: tuple[int, float], step_ms: int, max_gap_ms: float
) -> GapFill:
    """The missing samples between two observed ones, interpolated when the gap is short.

    ``step_ms`` is the series' sampling interval; the gap is the time between the two
    observed samples minus one interval, filled when it is at most ``max_gap_ms``.

    >>> fill_gap((0, 10.0), (3_600_000, 40.0), 900_000, 2_700_000)
    GapFill(ts_ms=[900000, 1800000, 2700000], values=[17.5, 25.0, 32.5])
    >>> fill_gap((0, 10.0), (3_600_000, 40.0), 900_000, 1_800_000).values is None
    True
    """
    (t0, v0), (t1, v1) = before, after
    missing = list(range(t0 + step_ms, t1, step_ms))
    if not missing:
        return GapFill([], [])
    if t1 - t0 - step_ms > max_gap_ms:
        return GapFill(missing, None)
    fraction = (np.asarray(missing, dtype=np.float64) - t0) / (t1 - t0)
    return GapFill(missing, (v0 + fraction * (v1 - v0)).tolist())


def fill_short_gaps(y: np.ndarray, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate interior NaN runs of at most ``max_steps`` in each row.

    Args:
        y: series, NaN where missing, shape (T,) or (B, T).
        max_steps: longest run of missing steps to fill.

    Returns:
        The filled series and a mask of the values that were interpolated.

    >>> filled, mask = fill_short_gaps(np.array([1.0, np.nan, 3.0, np.nan, np.nan, np.nan, 7.0]), 2)
    >>> filled.tolist()[:3], mask.tolist()
    ([1.0, 2.0, 3.0], [False, True, False, False, False, False, False])
    """
    rows = np.atleast_2d(np.asarray(y, dtype=np.float64))
    length = rows.shape[1]
    missing = np.isnan(rows)
    index = np.broadcast_to(np.arange(length), rows.shape)
    prev = np.maximum.accumulate(np.where(missing, -1, index), axis=1)
    nxt = np.minimum.accumulate(np.where(missing, length, index)[:, ::-1], axis=1)[:, ::-1]
    fillable = missing & (prev >= 0) & (nxt < length) & (nxt - prev - 1 <= max_steps)
    p = np.clip(prev, 0, length - 1)
    q = np.clip(nxt, 0, length - 1)
    vp = np.take_along_axis(rows, p, axis=1)
    vq = np.take_along_axis(rows, q, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        interpolated = vp + (index - p) / (q - p) * (vq - vp)
    filled = np.where(fillable, interpolated, rows)
    return filled.reshape(np.shape(y)), fillable.reshape(np.shape(y))


def completeness(y: np.ndarray) -> float:
    """Share of the samples a series should have had, on its own cadence, that it has.

    The span runs from the series' first sample in ``y`` to the end of ``y`` (a stale
    series is incomplete); the cadence is the shortest spacing between its samples.

    >>> hourly = np.full(96, np.nan); hourly[::4] = 1.0   # hourly data in 15-min steps
    >>> completeness(hourly)
    1.0
    >>> hourly[40:60] = np.nan                              # five hours missing
    >>> round(completeness(hourly), 3)
    0.792
    """
    idx = np.flatnonzero(np.isfinite(y))
    if idx.size == 0:
        return 0.0
    cadence = int(np.diff(idx).min()) if idx.size > 1 else 1
    expected = (len(y) - 1 - int(idx[0])) // cadence + 1
    return min(1.0, idx.size / expected)
