from gridbrain.processors.clean import range_mask
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
