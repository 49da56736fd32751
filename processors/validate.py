"""Validation of decoded messages: schema, types, units and timestamp sanity.

A message is one JSON object or a JSON array of them. Each item either becomes a typed
record in canonical units or a :class:`Rejection` carrying the reason and the original item.
"""

import json
import math
import reprlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridbrain.errors import InvalidMessageError
from gridbrain.processors.identifiers import check_identifier, is_identifier
from gridbrain.processors.quantities import QUANTITIES
from gridbrain.processors.timestamps import EARLIEST_MS, parse_ts_ms

__all__ = [
    "ReadingBatch",
    "Rejection",
    "check_not_future",
    "decode_items",
    "require_number",
    "require_str",
    "validate_readings",
]


@dataclass(frozen=True)
class Rejection:
    """One rejected item: why, and what it was.

    Attributes:
        index: position of the item in its message (0 for a message that did not decode).
        reason: machine-readable reason, e.g. ``unknown_unit``.
        detail: human-readable explanation.
        payload: the original item (or the raw text of an undecodable message).
    """

    index: int
    reason: str
    detail: str
    payload: Any


@dataclass
class ReadingBatch:
    """Valid readings as columns, values in canonical units.

    Attributes:
        site_id: site of each reading.
        sensor_id: sensor of each reading ('' when the reading named none).
        quantity: quantity name of each reading.
        ts_ms: event time, epoch milliseconds UTC.
        value: value in the quantity's canonical unit.
        index: position of each reading in its source message.
        message: which message of a batch of several each reading came from (0 for one).
    """

    site_id: list[str] = field(default_factory=list)
    sensor_id: list[str] = field(default_factory=list)
    quantity: list[str] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    message: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts_ms)

    def append(
        self,
        site_id: str,
        sensor_id: str,
        quantity: str,
        ts_ms: int,
        value: float,
        index: int,
        message: int = 0,
    ) -> None:
        """Append one reading."""
        self.site_id.append(site_id)
        self.sensor_id.append(sensor_id)
        self.quantity.append(quantity)
        self.ts_ms.append(ts_ms)
        self.value.append(value)
        self.index.append(index)
        self.message.append(message)

    def extend(self, other: "ReadingBatch") -> None:
        """Append every reading of ``other``."""
        self.site_id.extend(other.site_id)
        self.sensor_id.extend(other.sensor_id)
        self.quantity.extend(other.quantity)
        self.ts_ms.extend(other.ts_ms)
        self.value.extend(other.value)
        self.index.extend(other.index)
        self.message.extend(other.message)

    def take(self, mask: np.ndarray) -> "ReadingBatch":
        """Return the readings where ``mask`` is true (this batch itself when all are)."""
        if mask.all():
            return self
        return self.rows(np.flatnonzero(mask))

    def rows(self, order: np.ndarray) -> "ReadingBatch":
        """The readings at positions ``order``, in that order."""
        keep = order.tolist()
        return ReadingBatch(
            site_id=[self.site_id[i] for i in keep],
            sensor_id=[self.sensor_id[i] for i in keep],
            quantity=[self.quantity[i] for i in keep],
            ts_ms=[self.ts_ms[i] for i in keep],
            value=[self.value[i] for i in keep],
            index=[self.index[i] for i in keep],
            message=[self.message[i] for i in keep],
        )


def decode_items(raw: bytes) -> list[Any]:
    """Decode a message into its items (a JSON object is a batch of one).

    Raises:
        InvalidMessageError: ``malformed_json``, ``too_deeply_nested`` or ``empty_batch``.
    """
    try:
        decoded = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessageError("malformed_json", str(exc)) from exc
    except RecursionError as exc:
        raise InvalidMessageError("too_deeply_nested", "JSON nested too deeply") from exc
    if isinstance(decoded, list):
        if not decoded:
            raise InvalidMessageError("empty_batch", "a batch must hold at least one item")
        return decoded
    return [decoded]


def require_str(item: dict[str, Any], key: str) -> str:
    """``item[key]`` as a non-empty string (``missing_<key>`` / ``bad_<key>`` otherwise)."""
    value = item.get(key)
    if value is None:
        raise InvalidMessageError(f"missing_{key}", f"{key} is required")
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessageError(f"bad_{key}", f"{key} must be a non-empty string")
    return value


def require_number(value: Any, name: str) -> float:
    """``value`` as a finite float (``bad_<name>`` otherwise; booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidMessageError(
            f"bad_{name}", f"{name} must be a number, got {reprlib.repr(value)}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidMessageError(f"bad_{name}", f"{name} must be finite")
    return number


def check_not_future(ts_ms: int, now_ms: int, max_future_ms: int) -> None:
    """Raise ``future_timestamp`` when ``ts_ms`` lies beyond ``now_ms + max_future_ms``."""
    if ts_ms > now_ms + max_future_ms:
        raise InvalidMessageError(
            "future_timestamp", f"{(ts_ms - now_ms) / 60000:.0f} min in the future"
        )


def _fast_reading(item: Any, latest_ms: int) -> tuple[str, str, str, int, float] | None:
    """The common case, checked with few calls; None means "use the full checks".

    It accepts exactly what :func:`_one_reading` accepts, only faster; anything unusual
    (including every invalid item) goes to the full checks, which give the reason.
    """
    if type(item) is not dict:
        return None
    site_id = item.get("site_id")
    name = item.get("quantity")
    unit = item.get("unit")
    raw = item.get("value")
    ts = item.get("ts")
    if not (type(site_id) is str and type(name) is str and type(unit) is str):
        return None
    if not (type(raw) is float or type(raw) is int) or not math.isfinite(raw):
        return None
    quantity = QUANTITIES.get(name)
    if quantity is None or unit not in quantity.factors or not is_identifier(site_id):
        return None
    if type(ts) is int:
        ts_ms = ts
    elif type(ts) is str:
        try:
            ts_ms = parse_ts_ms(ts)
        except InvalidMessageError:
            return None
    else:
        return None
    if not EARLIEST_MS <= ts_ms <= latest_ms:
        return None
    sensor = item.get("sensor_id")
    if sensor is not None and sensor != "" and not is_identifier(sensor):
        return None
    return site_id, sensor or "", name, ts_ms, quantity.to_canonical(float(raw), unit)


def _one_reading(item: Any, now_ms: int, max_future_ms: int) -> tuple[str, str, str, int, float]:
    if not isinstance(item, dict):
        raise InvalidMessageError("not_an_object", f"expected an object, got {type(item).__name__}")
    site_id = check_identifier(item.get("site_id"), "site_id")
    name = require_str(item, "quantity")
    quantity = QUANTITIES.get(name)
    if quantity is None:
        raise InvalidMessageError("unknown_quantity", name[:100])
    unit = require_str(item, "unit")
    if unit not in quantity.factors:
        raise InvalidMessageError("unknown_unit", f"{unit[:100]!r} for {name}")
    if "value" not in item:
        raise InvalidMessageError("missing_value", "value is required")
    value = quantity.to_canonical(require_number(item["value"], "value"), unit)
    if "ts" not in item:
        raise InvalidMessageError("missing_ts", "ts is required")
    ts_ms = parse_ts_ms(item["ts"], item.get("tz"))
    check_not_future(ts_ms, now_ms, max_future_ms)
    sensor = item.get("sensor_id")
    sensor = "" if sensor is None or sensor == "" else check_identifier(sensor, "sensor_id")
    return site_id, sensor, name, ts_ms, value


def validate_readings(
    items: list[Any],
    now_ms: int,
    max_future_ms: int,
    into: ReadingBatch | None = None,
    message: int = 0,
) -> tuple[ReadingBatch, list[Rejection]]:
    """Validate the items of one ``sensor.readings`` message.

    Args:
        items: decoded items of the message.
        now_ms: the current wall-clock time, epoch milliseconds.
        max_future_ms: how far ahead of ``now_ms`` a timestamp may lie.
        into: append the valid readings to this batch (one batch for many messages).
        message: the message's number in ``into``.

    Returns:
        The valid readings (canonical units; ``into`` when given) and one rejection per
        invalid item.
    """
    batch = ReadingBatch() if into is None else into
    rejections: list[Rejection] = []
    latest = now_ms + max_future_ms
    append = batch.append
    for index, item in enumerate(items):
        fast = _fast_reading(item, latest)
        if fast is not None:
            site_id, sensor, name, ts_ms, value = fast
        else:
            try:
                site_id, sensor, name, ts_ms, value = _one_reading(item, now_ms, max_future_ms)
            except InvalidMessageError as exc:
                rejections.append(Rejection(index, exc.reason, exc.detail, item))
                continue
        append(site_id, sensor, name, ts_ms, value, index, message)
    return batch, rejections
