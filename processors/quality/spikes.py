"""Spikes: a causal Hampel filter over the preceding readings of a series.

A stream cannot look ahead, so a spike here is a *sudden* jump far outside the recent
distribution; the first reading of a genuine sudden change (a plume arriving) looks the
same and is flagged too, which is why the defaults keep spike checks to quantities and
thresholds where that is rare.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["hampel_mask", "hampel_segments", "padded_history"]

#: Ratio of the standard deviation to the median absolute deviation for normal data.
MAD_TO_SIGMA = 1.4826


def padded_history(history: np.ndarray, window: int) -> np.ndarray:
    """The last ``window`` readings of ``history``, NaN in front where it has fewer."""
    out = np.full(window, np.nan)
    tail = history[-window:] if len(history) else history
    if len(tail):
        out[window - len(tail) :] = tail
    return out


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
    return hampel_segments(
        padded_history(history, window)[None, :],
        values,
        np.zeros(n, dtype=np.int64),
        window,
        np.full(n, threshold),
        np.full(n, min_deviation),
    )[0]


def hampel_segments(
    histories: np.ndarray,
    values: np.ndarray,
    segment: np.ndarray,
    window: int,
    threshold: np.ndarray,
    min_deviation: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hampel_mask` of many series at once (see :mod:`.segments`).

    Args:
        histories: each series' last ``window`` earlier readings, NaN-padded in front,
            shape (S, window).
        values: the new readings, grouped by series, oldest first within each.
        segment: each reading's series, non-decreasing.
        window: readings in the median window (the same for all these series).
        threshold: per reading.
        min_deviation: per reading.

    Returns:
        The spike mask, and each series' last ``window`` readings after the batch
        (NaN-padded, shape (S, window)).
    """
    count = len(histories)
    n = len(values)
    # Each series' history followed by its values, in one array: reading i sits at
    # i + window * (segment[i] + 1), and its window starts ``window`` places earlier.
    extended = np.empty(count * window + n)
    seg_sizes = np.bincount(segment, minlength=count)
    seg_starts = np.concatenate([[0], np.cumsum(seg_sizes)])
    history_at = (seg_starts[:-1] + window * np.arange(count))[:, None] + np.arange(window)
    extended[history_at] = histories
    extended[np.arange(n) + window * (segment + 1)] = values
    tails = extended[(seg_starts[1:] + window * np.arange(1, count + 1))[:, None] - window
                     + np.arange(window)]  # fmt: skip
    if n == 0:
        return np.zeros(0, dtype=bool), tails
    windows = sliding_window_view(extended, window)[np.arange(n) + window * segment]
    finite = np.count_nonzero(~np.isnan(windows), axis=1)
    enough = finite >= window // 2
    median = _nanmedian_rows(windows, finite)
    mad = _nanmedian_rows(np.abs(windows - median[:, None]), finite)
    limit = np.maximum(threshold * MAD_TO_SIGMA * mad, min_deviation)
    with np.errstate(invalid="ignore"):
        far = np.abs(values - median) > limit
        jump = np.abs(values - windows[:, -1]) > limit
    return np.asarray(enough & far & jump), tails


def _nanmedian_rows(rows: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """The median of each row ignoring NaN (NaN for an all-NaN row); ``finite`` per row.

    Sorting puts NaN last, so the finite values are the first ``finite`` of each row.
    """
    ordered = np.sort(rows, axis=1)
    index = np.arange(len(rows))
    low = ordered[index, np.maximum((finite - 1) // 2, 0)]
    high = ordered[index, np.minimum(finite // 2, rows.shape[1] - 1)]
    return np.asarray((low + high) / 2)
