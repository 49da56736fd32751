"""The messages of a cleaning batch and the rejections of their readings.

A cleaning batch numbers its messages as their readings join one column batch; a reading
rejected later (range, lateness, unknown site) is written back to its own message, with
the item as it came, and dead-lettered there.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridbrain.processors.validate import ReadingBatch, Rejection, decode_items
from gridbrain.storage.transaction import BatchTransaction
from gridbrain.streams.envelope import DeadLetters, RawMessage

__all__ = ["UNKNOWN_SITE", "Sources", "record_unknown", "reject"]

#: Quality counts of refused sites go to one row: their ids are anyone's to make up.
UNKNOWN_SITE = "(unknown)"


@dataclass
class Sources:
    """The messages of a cleaning batch, in the order their readings were numbered.

    ``items`` holds each message's decoded items, or None for a message decoded
    straight into columns: its items are decoded again only if one is needed (a
    rejected or rerouted reading keeps its original form).
    """

    messages: list[RawMessage] = field(default_factory=list)
    items: list[list[Any] | None] = field(default_factory=list)
    rejections: list[list[Rejection]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rejections = self.rejections or [[] for _ in self.messages]

    def add(
        self, message: RawMessage, items: list[Any] | None, rejections: list[Rejection]
    ) -> None:
        """Number the next message (its readings carry this number)."""
        self.messages.append(message)
        self.items.append(items)
        self.rejections.append(rejections)

    def item(self, message: int, index: int) -> Any:
        """Item ``index`` of message ``message``, as it came."""
        items = self.items[message]
        if items is None:
            items = self.items[message] = decode_items(self.messages[message].value)
        return items[index]


_EXPLAIN = {
    "out_of_range": "outside the quantity's physical range",
    "too_late": "its step was already closed and emitted (allowed lateness passed)",
}


def reject(
    batch: ReadingBatch,
    keep: np.ndarray,
    reason: str,
    sources: Sources,
    per_site: dict[str, str] | None = None,
) -> ReadingBatch:
    """Add a rejection to its message for each reading not in ``keep``; return the kept.

    ``per_site``: the explanation by site (else the reason's own).
    """
    for i in np.flatnonzero(~keep).tolist():
        why = per_site[batch.site_id[i]] if per_site else _EXPLAIN[reason]
        detail = f"{batch.quantity[i]}={batch.value[i]:g} at {batch.ts_ms[i]}: {why}"
        m, index = batch.message[i], batch.index[i]
        sources.rejections[m].append(Rejection(index, reason, detail, sources.item(m, index)))
    return batch.take(keep)


def record_unknown(
    tx: BatchTransaction, message: RawMessage, rejections: list[Rejection], dead: DeadLetters
) -> None:
    """Dead-letter readings of refused sites, counted under one site (not one row each)."""
    for rejection in rejections:
        dead.add(message.position, rejection, message.key)
    tx.quality[(UNKNOWN_SITE, "unknown_site")] += len(rejections)
    tx.counts[(message.position.topic, "deadlettered")] += len(rejections)
