"""Plain message envelopes between the Faust agents and the stage handlers."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from gridbrain.errors import InvalidMessageError
from gridbrain.processors.fuse import FusedStep, canonical_step
from gridbrain.processors.identifiers import is_identifier, printable
from gridbrain.processors.validate import Rejection, decode_items
from gridbrain.storage.repositories import DeadLetterRow, add_dead_letters
from gridbrain.storage.transaction import BatchTransaction, InputPosition
from gridbrain.streams.topics import DEADLETTER

__all__ = [
    "DeadLetters",
    "Emission",
    "RawMessage",
    "encode",
    "fused_steps",
    "new_items",
    "record_rejections",
    "site_of",
    "site_of_key",
]


@dataclass(frozen=True)
class RawMessage:
    """An input message as bytes, with its position."""

    position: InputPosition
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class Emission:
    """A message to publish once the batch's transaction has committed.

    ``partition`` None: the key decides (Kafka's default partitioner).
    """

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None


def encode(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":"), default=str).encode()


#: Largest payload a dead-letter *message* carries (the table keeps the whole payload).
_TOPIC_PAYLOAD_MAX = 64 * 1024


def _payload_text(payload: Any) -> str:
    """Readable text of a rejected payload, safe to store (NUL and controls escaped)."""
    if isinstance(payload, bytes):
        return printable(payload.decode("utf-8", errors="backslashreplace"))
    try:
        return json.dumps(payload, default=str)  # ASCII: every control character escaped
    except (RecursionError, ValueError):
        return "(not storable as JSON text: nested too deeply)"


@dataclass
class DeadLetters:
    """Rejections of one batch: rows for the table and messages for the topic."""

    rows: list[DeadLetterRow] = field(default_factory=list)
    messages: list[tuple[bytes | None, dict[str, Any]]] = field(default_factory=list)

    def add(self, position: InputPosition, rejection: Rejection, key: bytes | None) -> None:
        """Record one rejected item of the message at ``position``."""
        row = DeadLetterRow(
            position.topic,
            position.partition,
            position.offset,
            rejection.index,
            printable(rejection.reason)[:64],
            printable(rejection.detail)[:_TOPIC_PAYLOAD_MAX],
            _payload_text(rejection.payload),
            rejection.payload if isinstance(rejection.payload, bytes) else None,
        )
        message = {
            "topic": row.topic,
            "partition": row.partition,
            "offset": row.offset,
            "item_index": row.item_index,
            "reason": row.reason,
            "detail": row.detail[:4096],
            "payload": row.payload[:_TOPIC_PAYLOAD_MAX],
        }
        if len(row.payload) > _TOPIC_PAYLOAD_MAX:
            message["payload_truncated"] = True
        self.rows.append(row)
        self.messages.append((key, message))

    def reject_message(
        self, tx: BatchTransaction, message: RawMessage, reason: str, detail: str
    ) -> None:
        """Dead-letter a whole message that cannot be decoded, and count it."""
        topic = message.position.topic
        tx.counts[(topic, "received")] += 1
        tx.counts[(topic, "deadlettered")] += 1
        self.add(message.position, Rejection(0, reason, detail, message.value), message.key)

    def store(self, session: Session) -> list[Emission]:
        """Write the rows in the batch's transaction; return the messages to publish.

        The messages carry the broker epoch, so a consumer can tell a redelivered dead
        letter from a new one at a reused offset.
        """
        if not self.rows:
            return []
        epoch = add_dead_letters(session, self.rows)
        return [
            Emission(DEADLETTER, key, encode({**message, "epoch": epoch}))
            for key, message in self.messages
        ]


def fused_steps(
    tx: BatchTransaction, messages: list[RawMessage], dead: DeadLetters
) -> Iterator[FusedStep]:
    """The fused steps of the messages not yet applied; undecodable ones dead-lettered.

    A message holds one site's steps of one cleaning batch (a JSON array), or one step.
    """
    for message in messages:
        if not tx.is_new(message.position):
            continue
        try:
            decoded = json.loads(message.value)
            items = decoded if isinstance(decoded, list) else [decoded]
            steps = [canonical_step(item) or FusedStep.from_dict(item) for item in items]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            dead.reject_message(tx, message, "bad_fused_step", repr(exc))
            continue
        tx.counts[(message.position.topic, "received")] += len(steps)
        tx.counts[(message.position.topic, "processed")] += len(steps)
        yield from steps


def new_items(
    tx: BatchTransaction, messages: list[RawMessage], dead: DeadLetters, prefix: str = ""
) -> Iterator[tuple[RawMessage, list[Any]]]:
    """The decoded items of each message not yet applied; undecodable ones dead-lettered.

    ``prefix`` is put before reasons in the per-site quality counts (e.g. ``weather_``).
    """
    for message in messages:
        if tx.is_new(message.position):
            items = decode_new(tx, message, dead, prefix)
            if items is not None:
                yield message, items


def decode_new(
    tx: BatchTransaction, message: RawMessage, dead: DeadLetters, prefix: str = ""
) -> list[Any] | None:
    """The decoded items of a message not yet applied (counted); None: dead-lettered."""
    topic = message.position.topic
    tx.counts[(topic, "messages")] += 1
    try:
        items = decode_items(message.value)
    except InvalidMessageError as exc:
        dead.reject_message(tx, message, exc.reason, exc.detail)
        # Undecodable: the message key (the site id by convention) tells the site.
        tx.quality[(site_of_key(message.key), f"{prefix}{exc.reason}")] += 1
        return None
    tx.counts[(topic, "received")] += len(items)
    return items


def record_rejections(
    tx: BatchTransaction,
    message: RawMessage,
    rejections: list[Rejection],
    dead: DeadLetters,
    prefix: str = "",
) -> None:
    """Dead-letter the rejected items of a message and count them per site and reason."""
    if not rejections:
        return
    for rejection in rejections:
        dead.add(message.position, rejection, message.key)
        tx.quality[(site_of(rejection.payload), f"{prefix}{rejection.reason}")] += 1
    tx.counts[(message.position.topic, "deadlettered")] += len(rejections)


def site_of_key(key: bytes | None) -> str:
    r"""The site a message key names (by convention), as text the database accepts.

    >>> site_of_key(b"pv\x00north"), site_of_key(None)
    ('pv\\x00north', '(unknown)')
    """
    if not key:
        return "(unknown)"
    return printable(key.decode("utf-8", errors="backslashreplace"))[:128]


def site_of(payload: Any) -> str:
    """The site a rejected item names, if it names an acceptable one."""
    if isinstance(payload, dict):
        site = payload.get("site_id") or payload.get("station_id")
        if is_identifier(site):
            return str(site)
    return "(unknown)"
