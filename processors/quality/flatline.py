"""Flatliners: a series constant for longer than its quantity allows (a stuck sensor)."""

from dataclasses import dataclass

import numpy as np

__all__ = ["FlatRun", "flatline_mask"]


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
    previous = np.concatenate([[run.last_value if run is not None else np.nan], values[:-1]])
    continues = np.abs(values - previous) <= tolerance  # NaN (no previous) -> False
    continues &= ~exempt
    continues[1:] &= ~exempt[:-1]
    if run is None:
        continues[0] = False
    # Each value's run starts at the newest value that did not continue a run.
    starts = np.where(continues, -1, np.arange(n))
    first = np.maximum.accumulate(starts)
    start_ts = np.where(first >= 0, ts_ms[np.maximum(first, 0)], run.start_ts_ms if run else 0)
    mask = ~exempt & (ts_ms - start_ts >= duration_ms)
    end = None if exempt[-1] else FlatRun(int(start_ts[-1]), float(values[-1]))
    return np.asarray(mask), end
