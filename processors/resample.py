"""Resampling of each site's readings to a fixed step, closed by event time."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from processors.validate import ReadingBatch

__all__ = ["BucketIncrement", "ClosedStep", "Resampler", "merge_increments"]


@dataclass(frozen=True)
class BucketIncrement:
    """A partial aggregate to add to one stored bucket (sum and count of new readings)."""

    site_id: str
    quantity: str
    ts_ms: int
    value_sum: float
    count: int


@dataclass(frozen=True)
class ClosedStep:
    """One site's step whose window has closed: the mean of every quantity seen in it."""

    site_id: str
    ts_ms: int
    values: dict[str, float]
    counts: dict[str, int]


@dataclass
class _SiteState:
    buckets: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    watermark_ms: int = -1
    closed_until_ms: int = -1


@dataclass
class Resampler:
    """Aggregates readings into step buckets and closes a site's bucket by event time.

    A bucket ``[t, t + step)`` closes once the newest reading of its site is at least
    ``lateness`` past ``t + step``; its mean is then final. Readings for a closed bucket
    are *too late*: :meth:`open_mask` finds them so the caller can reject them before
    :meth:`add` (the stored mean is never changed after it was emitted).
    """

    step_ms: int
    lateness_ms: int
    _sites: dict[str, _SiteState] = field(default_factory=lambda: defaultdict(_SiteState))

    def open_mask(self, batch: ReadingBatch) -> np.ndarray:
        """True where a reading's bucket is still open (closed by an earlier batch: false)."""
        closed_until = np.fromiter(
            (self._sites[s].closed_until_ms if s in self._sites else -1 for s in batch.site_id),
            dtype=np.int64,
            count=len(batch),
        )
        ts = np.asarray(batch.ts_ms, dtype=np.int64)
        return np.asarray(ts - ts % self.step_ms >= closed_until)

    def add(self, batch: ReadingBatch) -> tuple[list[BucketIncrement], list[ClosedStep]]:
        """Add a batch of clean readings whose buckets are open.

        Returns:
            The increments to add to the stored buckets, and the steps that closed.
        """
        if not len(batch):
            return [], []
        ts = np.asarray(batch.ts_ms, dtype=np.int64)
        bucket = ts - ts % self.step_ms
        values = np.asarray(batch.value, dtype=np.float64)
        keys = [f"{s}\x1f{q}" for s, q in zip(batch.site_id, batch.quantity, strict=True)]
        key_codes, key_index = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
        group = key_index.astype(np.int64) * (2**20) + (bucket // self.step_ms) % (2**20)
        uniq, first, inverse = np.unique(group, return_index=True, return_inverse=True)
        sums = np.bincount(inverse, weights=values)
        counts = np.bincount(inverse)
        increments: list[BucketIncrement] = []
        for g in range(len(uniq)):
            site_id, quantity = str(key_codes[key_index[first[g]]]).split("\x1f")
            start = int(bucket[first[g]])
            increments.append(
                BucketIncrement(site_id, quantity, start, float(sums[g]), int(counts[g]))
            )
            acc = self._sites[site_id].buckets.setdefault(start, {}).setdefault(quantity, [0.0, 0])
            acc[0] += float(sums[g])
            acc[1] += int(counts[g])
        newest = _max_per_site(batch.site_id, ts)
        for site_id, site_ts in newest.items():
            state = self._sites[site_id]
            state.watermark_ms = max(state.watermark_ms, site_ts)
        return increments, self._close(newest)

    def _close(self, sites: Iterable[str]) -> list[ClosedStep]:
        closed: list[ClosedStep] = []
        for site_id in sites:
            state = self._sites[site_id]
            horizon = state.watermark_ms - self.lateness_ms - self.step_ms
            for start in sorted(t for t in state.buckets if t <= horizon):
                per_quantity = state.buckets.pop(start)
                closed.append(
                    ClosedStep(
                        site_id,
                        start,
                        {q: acc[0] / acc[1] for q, acc in per_quantity.items()},
                        {q: int(acc[1]) for q, acc in per_quantity.items()},
                    )
                )
                state.closed_until_ms = max(state.closed_until_ms, start + self.step_ms)
        return closed


def _max_per_site(site_ids: list[str], ts: np.ndarray) -> dict[str, int]:
    result: dict[str, int] = {}
    for site_id, t in zip(site_ids, ts.tolist(), strict=True):
        if t > result.get(site_id, -1):
            result[site_id] = t
    return result


def merge_increments(increments: list[BucketIncrement]) -> list[BucketIncrement]:
    """Sum increments of the same bucket (fewer rows to write)."""
    merged: dict[tuple[str, str, int], list[float]] = {}
    for i in increments:
        acc = merged.setdefault((i.site_id, i.quantity, i.ts_ms), [0.0, 0])
        acc[0] += i.value_sum
        acc[1] += i.count
    return [BucketIncrement(s, q, t, acc[0], int(acc[1])) for (s, q, t), acc in merged.items()]
