"""The columnar fast path accepts exactly what the item-by-item path accepts."""

import json
import random
from typing import Any

from gridbrain.errors import InvalidMessageError
from gridbrain.processors.columnar import validate_columns
from gridbrain.processors.validate import ReadingBatch, decode_items, validate_readings

NOW = 1_750_000_000_000
FUTURE = 3_600_000
FIELDS = ("site_id", "sensor_id", "quantity", "ts_ms", "value", "index", "message")


def _hostile(rng: random.Random) -> Any:
    """A reading, usually well formed, sometimes broken in one of many ways."""
    item: dict[str, Any] = {
        "site_id": rng.choice(["pv-north", "feeder-2", "aq-port"]),
        "quantity": rng.choice(["pv_power", "load", "temperature", "no2", "pm25"]),
        "value": rng.choice([12.5, 0, -3, 250, 1e5]),
        "ts": NOW - rng.randrange(10**9),
    }
    item["unit"] = {"pv_power": "kW", "load": "MW", "temperature": "degF", "no2": "ppb"}.get(
        item["quantity"], "ug/m3"
    )
    if rng.random() < 0.5:
        item["sensor_id"] = rng.choice(["inv-1", "", None])
    if rng.random() < 0.3:
        key = rng.choice([*item, "extra"])
        item[key] = rng.choice(
            [None, True, "", "x\x00y", " pad", "a" * 200, 1.5, -(2**70), 2**70, [1], {"a": 1},
             "2024-06-01T12:00:00Z", "W", "\ud800", NOW + 10 * FUTURE, 0, float("inf")]
        )  # fmt: skip
    return item if rng.random() > 0.02 else rng.choice([None, 5, "text", []])


def test_fast_path_equals_the_item_by_item_path() -> None:
    rng = random.Random(11)
    fast_taken = 0
    for _ in range(150):
        raws = []
        for _ in range(rng.choice([1, 5, 40])):
            items = [_hostile(rng) for _ in range(rng.choice([1, 1, 3, 20]))]
            body: Any = items[0] if len(items) == 1 and rng.random() < 0.5 else items
            raws.append(json.dumps(body).encode())
        fast = ReadingBatch()
        counts = validate_columns(raws, NOW, FUTURE, fast, first=4)
        assert len(counts) == len(raws)
        expected = ReadingBatch()
        for number, (raw, n) in enumerate(zip(raws, counts, strict=True), start=4):
            try:
                items = decode_items(raw)
                taken, rejections = validate_readings(items, NOW, FUTURE, message=number)
            except InvalidMessageError:
                assert n is None
                continue
            if n is None:
                continue
            fast_taken += 1
            assert not rejections and n == len(taken)
            expected.extend(taken)
        for name in FIELDS:
            assert getattr(fast, name) == getattr(expected, name), name
    assert fast_taken > 1000  # the fast path serves the well-formed majority


def test_bytes_that_are_not_json_take_the_full_path() -> None:
    raws = [b"", b"\xff\xfe", b"[", b"[]", b"[" * 100_000, b'{"site_id": "a"}']
    batch = ReadingBatch()
    assert validate_columns(raws, NOW, FUTURE, batch) == [None] * len(raws)
    assert len(batch) == 0
