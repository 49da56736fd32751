"""Plain message envelopes between the Faust agents and the stage handlers."""

import json
from dataclasses import dataclass
from typing import Any

from processors.validate import Rejection
from storage.repositories import DeadLetterRow
from storage.transaction import InputPosition

__all__ = ["Emission", "RawMessage", "dead_letter", "encode"]


@dataclass(frozen=True)
class RawMessage:
    """An input message as bytes, with its position."""

    position: InputPosition
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class Emission:
    """A message to publish once the batch's transaction has committed."""

    topic: str
    key: bytes | None
    value: bytes


def encode(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def _payload_text(payload: Any) -> str:
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    return json.dumps(payload, default=str)


def dead_letter(
    position: InputPosition, rejection: Rejection, key: bytes | None, deadletter_topic: str
) -> tuple[DeadLetterRow, Emission]:
    """The table row and the topic message recording one rejection."""
    row = DeadLetterRow(
        position.topic,
        position.partition,
        position.offset,
        rejection.index,
        rejection.reason,
        rejection.detail,
        _payload_text(rejection.payload),
    )
    message = {
        "topic": row.topic,
        "partition": row.partition,
        "offset": row.offset,
        "item_index": row.item_index,
        "reason": row.reason,
        "detail": row.detail,
        "payload": row.payload,
    }
    return row, Emission(deadletter_topic, key, encode(message))
