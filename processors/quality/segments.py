"""Segmented arrays: many series' readings in one array, each series a contiguous run.

The quality checks run over every series of a batch at once: readings sorted by series
then time, ``segment`` giving each reading's series (0..S-1, non-decreasing). These
helpers turn per-series state (S values) into per-reading arrays and back.
"""

import numpy as np

__all__ = ["segment_ends", "segment_starts", "shifted_within"]


def segment_starts(segment: np.ndarray, count: int) -> np.ndarray:
    """Index of each segment's first reading, shape (count + 1,), the last = len(segment).

    >>> segment_starts(np.array([0, 0, 1, 2, 2, 2]), 3).tolist()
    [0, 2, 3, 6]
    """
    return np.searchsorted(segment, np.arange(count + 1))


def segment_ends(segment: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segments, index of their last reading where ``where``) for segments that have one.

    >>> segment_ends(np.array([0, 0, 1, 2, 2]), np.array([True, False, False, True, True]))
    (array([0, 2]), array([0, 4]))
    """
    index = np.flatnonzero(where)
    segs = segment[index]
    last = np.ones(len(index), dtype=bool)
    last[:-1] = segs[1:] != segs[:-1]
    return segs[last], index[last]


def shifted_within(values: np.ndarray, segment: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Each reading's predecessor in its segment; a segment's first gets ``before[seg]``.

    >>> shifted_within(np.array([1.0, 2, 3]), np.array([0, 0, 1]), np.array([9.0, 8])).tolist()
    [9.0, 1.0, 8.0]
    """
    out = np.empty_like(values)
    if len(values):
        out[1:] = values[:-1]
        first = np.ones(len(values), dtype=bool)
        first[1:] = segment[1:] != segment[:-1]
        out[first] = before[segment[first]]
    return out
