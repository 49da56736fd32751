import numpy as np

from processors.clean import DuplicateFilter, range_mask
from tests.builders import batch


def test_range_mask_per_quantity() -> None:
    b = batch(
        [
            ("s", "a", "pm25", 0, 12.0),
            ("s", "a", "pm25", 1, -3.0),
            ("s", "a", "pm25", 2, 5000.0),
            ("s", "b", "temperature", 0, -95.0),
            ("s", "b", "temperature", 1, 21.0),
        ]
    )
    assert range_mask(b).tolist() == [True, False, False, False, True]


def test_duplicates_within_and_across_batches() -> None:
    f = DuplicateFilter(horizon_ms=10_000)
    first = f.first_seen_mask(
        batch(
            [
                ("s", "a", "load", 1000, 1.0),
                ("s", "a", "load", 1000, 1.0),
                ("s", "b", "load", 1000, 1.0),
            ]
        )
    )
    assert first.tolist() == [True, False, True]
    again = f.first_seen_mask(batch([("s", "a", "load", 1000, 2.0), ("s", "a", "load", 2000, 1.0)]))
    assert again.tolist() == [False, True]


def test_duplicate_memory_is_bounded_by_horizon() -> None:
    f = DuplicateFilter(horizon_ms=1_000)
    f.first_seen_mask(batch([("s", "a", "load", 0, 1.0)]))
    f.first_seen_mask(batch([("s", "a", "load", 5_000, 1.0)]))
    assert np.all(f.first_seen_mask(batch([("s", "a", "load", 0, 1.0)])))
