"""Well-formed reading messages decoded straight into columns, checked a batch at a time.

Most messages are well formed: every item an object with the usual fields and types. For
them, ``msgspec`` decodes the JSON into typed records in C, and the checks run once per
distinct site, sensor and (quantity, unit) and once per column with numpy, instead of
item by item. Anything unusual (a string timestamp, an unknown unit, a bad id, a value
out of any range the fast path checks) makes :func:`validate_columns` pass the message
over to the full item-by-item path of :mod:`.validate`, which gives each rejection its
reason: both paths accept exactly the same readings.
"""

from typing import Any

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
    raws: list[bytes], now_ms: int, max_future_ms: int, into: ReadingBatch, first: int = 0
) -> list[int | None]:
    """Append the readings of the well-formed messages of ``raws`` to ``into``.

    Every message is decoded on its own (in C), then the checks run once over all their
    readings: a batch of one-reading messages costs a few numpy calls, not a few per
    message.

    Args:
        raws: the message values.
        now_ms: the current wall-clock time, epoch milliseconds.
        max_future_ms: how far ahead of ``now_ms`` a timestamp may lie.
        into: the batch to append to, in message order.
        first: the number in ``into`` of the first message (message ``i`` is ``first + i``).

    Returns:
        Per message, the number of readings appended, or None when it needs the full
        path (nothing of it was appended).
    """
    decoded: list[list[_Reading] | None] = [_decode(raw) for raw in raws]
    readings = [r for rs in decoded if rs for r in rs]
    counts = np.array([len(rs) if rs else 0 for rs in decoded], dtype=np.int64)
    if not readings:
        return [None] * len(raws)
    owner = np.repeat(np.arange(len(raws)), counts)
    sites = [r.site_id for r in readings]
    sensors = [r.sensor_id or "" for r in readings]
    quantities = [r.quantity for r in readings]
    units = [r.unit for r in readings]
    values = np.array([r.value for r in readings], dtype=np.float64)
    bad = ~np.isfinite(values)
    ts_list = [r.ts for r in readings]
    try:
        ts = np.array(ts_list, dtype=np.int64)
    except OverflowError:  # beyond int64: out of range anyway
        huge = np.array([not _INT64_MIN <= t <= _INT64_MAX for t in ts_list], dtype=bool)
        ts = np.array([0 if h else t for t, h in zip(ts_list, huge.tolist(), strict=True)])
        bad |= huge
    bad |= (ts < EARLIEST_MS) | (ts > now_ms + max_future_ms)
    bad |= _bad_rows(sites, set(sites))
    bad |= _bad_rows(sensors, set(sensors) - {""})
    pairs = list(zip(quantities, units, strict=True))
    scale = {pair: _scale(*pair) for pair in set(pairs)}
    if any(s != (1.0, 0.0) for s in scale.values()):
        known = {p: s or (np.nan, np.nan) for p, s in scale.items()}
        factor, offset = np.array([known[p] for p in pairs], dtype=np.float64).T
        bad |= np.isnan(factor)
        values = values * factor + offset
    refused = np.zeros(len(raws), dtype=bool)
    refused[counts == 0] = True
    refused[owner[bad]] = True
    keep = ~refused[owner]
    chosen = None if keep.all() else np.flatnonzero(keep)

    def pick(column: list[Any]) -> list[Any]:
        return column if chosen is None else [column[i] for i in chosen.tolist()]

    def take(column: np.ndarray) -> list[Any]:
        return (column if chosen is None else column[chosen]).tolist()

    into.site_id.extend(pick(sites))
    into.sensor_id.extend(pick(sensors))
    into.quantity.extend(pick(quantities))
    into.ts_ms.extend(take(ts))
    into.value.extend(take(values))
    starts = np.cumsum(counts) - counts
    into.index.extend(take(np.arange(len(readings)) - starts[owner]))
    into.message.extend(take(owner + first))
    return [None if r else int(c) for r, c in zip(refused.tolist(), counts.tolist(), strict=True)]


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _decode(raw: bytes) -> list[_Reading] | None:
    try:
        head = raw.lstrip()[:1]
        return _MANY.decode(raw) if head == b"[" else [_ONE.decode(raw)]
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None


def _bad_rows(column: list[str], distinct: set[str]) -> np.ndarray | bool:
    """Rows whose identifier is not acceptable (False when every one is)."""
    wrong = {v for v in distinct if not is_identifier(v)}
    if not wrong:
        return False
    return np.array([v in wrong for v in column], dtype=bool)


def _scale(name: str, unit: str) -> tuple[float, float] | None:
    """(factor, offset) into the quantity's canonical unit; None if either is unknown."""
    quantity = QUANTITIES.get(name)
    if quantity is None or unit not in quantity.factors:
        return None
    return quantity.factors[unit], quantity.offsets.get(unit, 0.0)
