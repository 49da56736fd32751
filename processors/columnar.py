"""Well-formed reading messages decoded straight into columns, checked a batch at a time.

Most messages are well formed: every item an object with the usual fields and types. For
them, ``msgspec`` decodes the JSON into typed records in C, and the checks run once per
distinct site, sensor and (quantity, unit) and once per column with numpy, instead of
item by item. Anything unusual (a string timestamp, an unknown unit, a bad id, a value
out of any range the fast path checks) makes :func:`validate_columns` return None, and
the message takes the full item-by-item path of :mod:`.validate`, which gives each
rejection its reason: both paths accept exactly the same readings.
"""

import msgspec
import numpy as np

from gridbrain.processors.identifiers import is_identifier
from gridbrain.processors.quantities import QUANTITIES
from gridbrain.processors.timestamps import EARLIEST_MS
from gridbrain.processors.validate import ReadingBatch

__all__ = ["validate_columns"]


class _Reading(msgspec.Struct):
    """The fields the fast path reads (others are ignored, as the full path does)."""

    site_id: str
    quantity: str
    unit: str
    value: float
    ts: int
    sensor_id: str | None = None


_MANY = msgspec.json.Decoder(list[_Reading])
_ONE = msgspec.json.Decoder(_Reading)


def validate_columns(
    raw: bytes, now_ms: int, max_future_ms: int, into: ReadingBatch, message: int
) -> int | None:
    """Append a well-formed message's readings to ``into``; None if it needs the full path.

    Args:
        raw: the message value.
        now_ms: the current wall-clock time, epoch milliseconds.
        max_future_ms: how far ahead of ``now_ms`` a timestamp may lie.
        into: the batch to append to (nothing is appended when None is returned).
        message: the message's number in ``into``.

    Returns:
        The number of readings appended.
    """
    try:
        head = raw.lstrip()[:1]
        readings = _MANY.decode(raw) if head == b"[" else [_ONE.decode(raw)]
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    if not readings:
        return None
    sites = [r.site_id for r in readings]
    sensors = [r.sensor_id or "" for r in readings]
    quantities = [r.quantity for r in readings]
    units = [r.unit for r in readings]
    try:
        values = np.array([r.value for r in readings], dtype=np.float64)
        ts = np.array([r.ts for r in readings], dtype=np.int64)
    except OverflowError:
        return None
    if not (
        all(map(is_identifier, set(sites)))
        and all(map(is_identifier, set(sensors) - {""}))
        and np.isfinite(values).all()
        and ts.min() >= EARLIEST_MS
        and ts.max() <= now_ms + max_future_ms
    ):
        return None
    pairs = set(zip(quantities, units, strict=True))
    scale: dict[tuple[str, str], tuple[float, float]] = {}
    for name, unit in pairs:
        quantity = QUANTITIES.get(name)
        if quantity is None or unit not in quantity.factors:
            return None
        scale[(name, unit)] = (quantity.factors[unit], quantity.offsets.get(unit, 0.0))
    if any(s != (1.0, 0.0) for s in scale.values()):
        factor = np.array([scale[p][0] for p in zip(quantities, units, strict=True)])
        offset = np.array([scale[p][1] for p in zip(quantities, units, strict=True)])
        values = values * factor + offset
    n = len(readings)
    into.site_id.extend(sites)
    into.sensor_id.extend(sensors)
    into.quantity.extend(quantities)
    into.ts_ms.extend(ts.tolist())
    into.value.extend(values.tolist())
    into.index.extend(range(n))
    into.message.extend([message] * n)
    return n
