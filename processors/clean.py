"""Cleaning: physical ranges per quantity."""

import numpy as np

from gridbrain.processors.quantities import QUANTITIES
from gridbrain.processors.validate import ReadingBatch

__all__ = ["range_mask"]


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
