"""Cleaning: physical ranges per quantity and duplicate readings."""

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from processors.quantities import QUANTITIES
from processors.validate import ReadingBatch

__all__ = ["DuplicateFilter", "range_mask"]


def range_mask(batch: ReadingBatch) -> np.ndarray:
    """Return a boolean mask: true where the value lies in its quantity's physical range."""
    names = np.asarray(batch.quantity, dtype=object)
    values = np.asarray(batch.value, dtype=np.float64)
    low = np.empty(len(batch))
    high = np.empty(len(batch))
    for name in set(batch.quantity):
        where = names == name
        low[where] = QUANTITIES[name].low
        high[where] = QUANTITIES[name].high
    return (values >= low) & (values <= high)


@dataclass
class DuplicateFilter:
    """Remembers recent (site, sensor, quantity, ts) keys and flags repeats.

    Memory is bounded: keys older than ``horizon_ms`` behind the newest timestamp seen
    are forgotten, so a repeat arriving later than that is not caught here (the
    idempotent upsert in storage still keeps the tables right).
    """

    horizon_ms: int
    _seen: set[tuple[str, str, str, int]] = field(default_factory=set)
    _order: deque[tuple[str, str, str, int]] = field(default_factory=deque)
    _newest_ms: int = 0

    def first_seen_mask(self, batch: ReadingBatch) -> np.ndarray:
        """Return a mask that is false for readings already seen (in this or earlier batches)."""
        mask = np.ones(len(batch), dtype=bool)
        seen = self._seen
        for i, key in enumerate(
            zip(batch.site_id, batch.sensor_id, batch.quantity, batch.ts_ms, strict=True)
        ):
            if key in seen:
                mask[i] = False
            else:
                seen.add(key)
                self._order.append(key)
        if batch.ts_ms:
            self._newest_ms = max(self._newest_ms, max(batch.ts_ms))
        self._evict()
        return mask

    def _evict(self) -> None:
        cutoff = self._newest_ms - self.horizon_ms
        order = self._order
        # Keys arrive roughly in time order; stop at the first recent one.
        while order and order[0][3] < cutoff:
            self._seen.discard(order.popleft())
        limit = 2_000_000
        while len(order) > limit:
            self._seen.discard(order.popleft())
