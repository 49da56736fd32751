"""Resampling of each site's readings to a fixed step, closed by event time."""

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from processors.validate import ReadingBatch

__all__ = ["BucketIncrement", "ClosedStep", "Resampler"]


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
    ``lateness`` past ``t + step``. A reading for an already-closed bucket is *late*: it
    still updates the stored bucket (the increment), but the closed step is not emitted
    again.
    """

    step_ms: int
    lateness_ms: int
    _sites: dict[str, _SiteState] = field(default_factory=lambda: defaultdict(_SiteState))

    def add(self, batch: ReadingBatch) -> tuple[list[BucketIncrement], list[ClosedStep], int]:
        """Add a batch of clean readings.

        Returns:
            The increments to store, the steps that closed, and the number of late readings.
        """
        if not len(batch):
            return [], [], 0
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
        late = 0
        for g in range(len(uniq)):
            site_id, quantity = str(key_codes[key_index[first[g]]]).split("\x1f")
            start = int(bucket[first[g]])
            increments.append(
                BucketIncrement(site_id, quantity, start, float(sums[g]), int(counts[g]))
            )
            state = self._sites[site_id]
            if start < state.closed_until_ms:
                late += int(counts[g])
                continue
            acc = state.buckets.setdefault(start, {}).setdefault(quantity, [0.0, 0])
            acc[0] += float(sums[g])
            acc[1] += int(counts[g])
        for site_id, site_ts in _max_per_site(batch.site_id, ts).items():
            state = self._sites[site_id]
            state.watermark_ms = max(state.watermark_ms, site_ts)
        return increments, self._close(), late

    def _close(self) -> list[ClosedStep]:
        closed: list[ClosedStep] = []
        for site_id, state in self._sites.items():
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
