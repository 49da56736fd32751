"""Flatliners: a series constant for longer than its quantity allows (a stuck sensor)."""

from dataclasses import dataclass

import numpy as np

from gridbrain.processors.quality.segments import segment_ends, shifted_within

__all__ = ["FlatRun", "flatline_mask", "flatline_segments"]


@dataclass(frozen=True)
class FlatRun:
    """The constant run a series ended its last batch in.

    Attributes:
        start_ts_ms: time of the run's first reading.
        last_value: the run's newest value.
    """

    start_ts_ms: int
    last_value: float


def flatline_mask(
    run: FlatRun | None,
    values: np.ndarray,
    ts_ms: np.ndarray,
    exempt: np.ndarray,
    tolerance: float,
    duration_ms: int,
) -> tuple[np.ndarray, FlatRun | None]:
    """True where a value belongs to a run constant for at least ``duration_ms`` so far.

    A run continues while each value is within ``tolerance`` of the previous one; an
    ``exempt`` value (e.g. PV at zero with the sun down) ends any run and starts none.
    Flags start once the run has lasted ``duration_ms``: the earlier part of a run was
    still plausible when it arrived.

    Returns:
        The mask, and the run the series ends in (None after an exempt value).

    >>> hour = 3_600_000
    >>> mask, run = flatline_mask(None, np.array([5.0, 5, 5, 5, 6]),
    ...     np.arange(5) * hour, np.zeros(5, dtype=bool), 0.0, 2 * hour)
    >>> mask.tolist(), run
    ([False, False, True, True, False], FlatRun(start_ts_ms=14400000, last_value=6.0))
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=bool), run
    mask, start_ts, last_value = flatline_segments(
        np.array([run.start_ts_ms if run else 0], dtype=np.int64),
        np.array([run.last_value if run else np.nan]),
        values,
        ts_ms,
        exempt,
        np.zeros(n, dtype=np.int64),
        np.full(n, tolerance),
        np.full(n, duration_ms, dtype=np.int64),
    )
    end = None if np.isnan(last_value[0]) else FlatRun(int(start_ts[0]), float(last_value[0]))
    return mask, end


def flatline_segments(
    run_start_ts: np.ndarray,
    run_value: np.ndarray,
    values: np.ndarray,
    ts_ms: np.ndarray,
    exempt: np.ndarray,
    segment: np.ndarray,
    tolerance: np.ndarray,
    duration_ms: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`flatline_mask` of many series at once (see :mod:`.segments`).

    Each series' run before the batch is (``run_start_ts``, ``run_value``), NaN value for
    none; ``tolerance`` and ``duration_ms`` are per reading.

    Returns:
        The mask, and each series' run after the batch as (start, value), NaN value for
        none (after an exempt value); series without readings keep theirs.
    """
    n = len(values)
    index = np.arange(n)
    previous = shifted_within(values, segment, run_value)
    continues = np.abs(values - previous) <= tolerance  # NaN (no previous) -> False
    continues &= ~exempt
    continues &= ~shifted_within(exempt, segment, np.zeros(len(run_value), dtype=bool))
    # Each value's run starts at the newest value that did not continue a run; one that
    # lies before the value's series began means the run carried over from the last batch.
    first = np.maximum.accumulate(np.where(continues, -1, index))
    carried = first < np.searchsorted(segment, segment)
    start_ts = np.where(carried, run_start_ts[segment], ts_ms[np.maximum(first, 0)])
    mask = ~exempt & (ts_ms - start_ts >= duration_ms)
    end_start, end_value = run_start_ts.copy(), run_value.copy()
    segs, last = segment_ends(segment, np.ones(n, dtype=bool))
    end_start[segs] = start_ts[last]
    end_value[segs] = np.where(exempt[last], np.nan, values[last])
    return np.asarray(mask), end_start, end_value
