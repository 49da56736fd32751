"""Implausible rates of change against the previous accepted reading."""

import numpy as np

__all__ = ["rate_mask", "rate_segments"]


def rate_mask(
    previous: tuple[float, int] | None,
    values: np.ndarray,
    ts_ms: np.ndarray,
    excluded: np.ndarray,
    max_rate_per_minute: float,
) -> np.ndarray:
    """True where a value changed faster than ``max_rate_per_minute`` since the last good one.

    The reference of each value is the newest earlier value neither ``excluded`` (spikes)
    nor itself too fast, or ``previous`` (value, ts) from before the batch. Measuring
    against the last good value means the reading after a spike is not blamed for the
    return to normal; measuring per minute elapsed means a genuine level shift is
    accepted once enough time has passed.

    Args:
        previous: (value, ts_ms) of the last accepted reading before the batch, if any.
        values: the new readings in time order.
        ts_ms: their times.
        excluded: readings that may not serve as a reference.
        max_rate_per_minute: canonical units per minute.

    >>> rate_mask((10.0, 0), np.array([11.0, 40.0, 12.0]), np.array([60_000, 120_000,
    ...     180_000]), np.array([False, False, False]), 5.0)
    array([False,  True, False])
    """
    value, ts = previous if previous is not None else (np.nan, -1)
    return rate_segments(
        np.array([value], dtype=np.float64),
        np.array([ts], dtype=np.int64),
        values,
        ts_ms,
        excluded,
        np.zeros(len(values), dtype=np.int64),
        np.full(len(values), max_rate_per_minute),
    )


def rate_segments(
    previous_value: np.ndarray,
    previous_ts: np.ndarray,
    values: np.ndarray,
    ts_ms: np.ndarray,
    excluded: np.ndarray,
    segment: np.ndarray,
    limit: np.ndarray,
) -> np.ndarray:
    """:func:`rate_mask` of many series at once (see :mod:`.segments`).

    ``previous_value`` / ``previous_ts``: each series' last accepted reading before the
    batch (NaN value: none); ``limit``: the largest rate per minute, per reading.
    """
    flagged = _against_last_good(
        previous_value, previous_ts, values, ts_ms, excluded, segment, limit
    )
    # A second pass stops a flagged value from serving as the next one's reference (an
    # exact answer would be sequential; two passes settle every case but chains of
    # alternating outliers).
    return _against_last_good(
        previous_value, previous_ts, values, ts_ms, excluded | flagged, segment, limit
    )


def _against_last_good(
    previous_value: np.ndarray,
    previous_ts: np.ndarray,
    values: np.ndarray,
    ts_ms: np.ndarray,
    excluded: np.ndarray,
    segment: np.ndarray,
    limit: np.ndarray,
) -> np.ndarray:
    count, n = len(previous_value), len(values)
    # Each series' previous reading in a slot before its values: reading i sits at
    # i + segment[i] + 1, series s's slot at (its first reading's index) + s.
    slot = np.searchsorted(segment, np.arange(count)) + np.arange(count)
    at = np.arange(n) + segment + 1
    ref_value = np.empty(count + n)
    ref_ts = np.empty(count + n)
    usable = np.empty(count + n, dtype=bool)
    ref_value[slot], ref_ts[slot], usable[slot] = (
        previous_value,
        previous_ts,
        ~np.isnan(previous_value),
    )
    ref_value[at], ref_ts[at], usable[at] = values, ts_ms, ~excluded
    # Index of the newest usable reference strictly before each value, in its series.
    newest = np.maximum.accumulate(np.where(usable, np.arange(count + n), -1))
    last = newest[at - 1]
    has_ref = last >= slot[segment]
    last = np.maximum(last, 0)
    minutes = np.maximum((ts_ms - ref_ts[last]) / 60_000.0, 1e-9)
    with np.errstate(invalid="ignore"):
        rate = np.abs(values - ref_value[last]) / minutes
        return np.asarray(has_ref & (rate > limit))
