"""Spikes: a causal Hampel filter over the preceding readings of a series.

A stream cannot look ahead, so a spike here is a *sudden* jump far outside the recent
distribution; the first reading of a genuine sudden change (a plume arriving) looks the
same and is flagged too, which is why the defaults keep spike checks to quantities and
thresholds where that is rare.
"""

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["hampel_mask"]

#: Ratio of the standard deviation to the median absolute deviation for normal data.
MAD_TO_SIGMA = 1.4826


def hampel_mask(
    history: np.ndarray,
    values: np.ndarray,
    window: int,
    threshold: float,
    min_deviation: float = 0.0,
) -> np.ndarray:
    """True where a value is a spike against the ``window`` readings before it.

    Each value is compared with the median of the ``window`` readings that precede it
    (the tail of ``history`` first, then earlier values of ``values``); it is a spike when
    it lies more than ``threshold`` robust standard deviations and more than
    ``min_deviation`` from that median *and* from the reading just before it (a sudden
    jump: a gradual rise, like a pollution episode building up or the daily temperature
    cycle, is never a spike). Values with fewer than ``window // 2`` preceding
    readings are never spikes. Flagged readings stay in the window, so only the first
    reading of a lasting level shift is flagged.

    Args:
        history: the most recent earlier readings, oldest first (NaN-free).
        values: the new readings, oldest first.
        window: readings in the median window.
        threshold: in robust standard deviations.
        min_deviation: absolute floor of the deviation, canonical units.

    >>> hampel_mask(np.array([10.0, 11, 10, 12, 11, 10]), np.array([11.0, 60, 10]), 6, 5.0)
    array([False,  True, False])
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=bool)
    pad = np.full(max(0, window - len(history)), np.nan)
    series = np.concatenate([pad, history[-window:], values])
    windows = sliding_window_view(series, window)[:n]  # windows[i] precedes values[i]
    enough = np.count_nonzero(~np.isnan(windows), axis=1) >= window // 2
    if pad.size:
        with warnings.catch_warnings():  # windows with no history yet are all NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(windows, axis=1, keepdims=True)
            mad = np.nanmedian(np.abs(windows - median), axis=1)
    else:
        median = np.median(windows, axis=1, keepdims=True)
        mad = np.median(np.abs(windows - median), axis=1)
    limit = np.maximum(threshold * MAD_TO_SIGMA * mad, min_deviation)
    with np.errstate(invalid="ignore"):
        far = np.abs(values - median[:, 0]) > limit
        jump = np.abs(values - windows[:, -1]) > limit
    return np.asarray(enough & far & jump)
