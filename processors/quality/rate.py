"""Implausible rates of change against the previous accepted reading."""

import numpy as np

__all__ = ["rate_mask"]


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
    flagged = _against_last_good(previous, values, ts_ms, excluded, max_rate_per_minute)
    # A second pass stops a flagged value from serving as the next one's reference (an
    # exact answer would be sequential; two passes settle every case but chains of
    # alternating outliers).
    return _against_last_good(previous, values, ts_ms, excluded | flagged, max_rate_per_minute)


_Previous = tuple[float, int] | None


def _against_last_good(
    previous: _Previous, values: np.ndarray, ts_ms: np.ndarray, excluded: np.ndarray, limit: float
) -> np.ndarray:
    n = len(values)
    ref_value = np.empty(n + 1)
    ref_ts = np.empty(n + 1)
    ref_value[0], ref_ts[0] = previous if previous is not None else (np.nan, np.nan)
    ref_value[1:] = values
    ref_ts[1:] = ts_ms
    usable = np.concatenate([[previous is not None], ~excluded])
    # Index of the newest usable reference strictly before each value.
    last = np.maximum.accumulate(np.where(usable, np.arange(n + 1), -1))[:-1]
    has_ref = last >= 0
    last = np.maximum(last, 0)
    minutes = np.maximum((ts_ms - ref_ts[last]) / 60_000.0, 1e-9)
    with np.errstate(invalid="ignore"):
        rate = np.abs(values - ref_value[last]) / minutes
        return np.asarray(has_ref & (rate > limit))
