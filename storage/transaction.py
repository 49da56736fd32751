"""One transaction per processed input batch: effects, counters and input offsets together.

Storing the last input offset in the same transaction as the batch's effects makes the
effects exactly-once even though Kafka delivery is at-least-once: a batch redelivered
after a crash is recognised and skipped.
"""

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gridbrain.storage.repositories import (
    add_counts,
    add_quality_counts,
    load_offsets,
    save_offsets,
)

__all__ = ["BatchTransaction", "InputPosition", "PreparedBatch", "prepare_batch", "run_batch"]

T = TypeVar("T")


@dataclass(frozen=True)
class InputPosition:
    """Where an input message came from."""

    topic: str
    partition: int
    offset: int


@dataclass
class BatchTransaction:
    """What a stage's batch handler sees: the session, counters, and offsets to save.

    Attributes:
        session: the open session (one transaction).
        counts: (topic, counter) -> increment, saved at commit.
        quality: (site, check) -> increment, saved at commit.
        offsets: (topic, partition) -> last offset handled, saved at commit.
        committed: offsets already committed before this batch.
    """

    session: Session
    committed: dict[tuple[str, int], int]
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    quality: Counter[tuple[str, str]] = field(default_factory=Counter)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def is_new(self, position: InputPosition, count: bool = True) -> bool:
        """Whether a message's effects are not committed yet (and mark it as handled).

        A message already applied (redelivered after a crash or a rebalance) is counted
        as ``redelivered`` on its topic unless ``count`` is false.
        """
        key = (position.topic, position.partition)
        if position.offset <= self.committed.get(key, -1):
            if count:
                self.counts[(position.topic, "redelivered")] += 1
            return False
        self.offsets[key] = max(self.offsets.get(key, -1), position.offset)
        return True


@dataclass
class PreparedBatch(Generic[T]):
    """A batch whose effects are written but not committed yet.

    The caller publishes ``result``'s messages, then calls :meth:`commit`; if publishing
    fails it calls :meth:`rollback` and the batch is redelivered. So a crash never
    commits a batch whose output was not delivered (outputs are at-least-once, effects
    exactly-once).
    """

    session: Session
    result: T

    def commit(self) -> None:
        """Commit the batch's effects, counters and offsets."""
        try:
            self.session.commit()
        finally:
            self.session.close()

    def rollback(self) -> None:
        """Discard the batch's effects."""
        try:
            self.session.rollback()
        finally:
            self.session.close()


def prepare_batch(
    sessions: sessionmaker[Session],
    stage: str,
    partitions: Iterable[tuple[str, int]],
    handler: Callable[[BatchTransaction], T],
) -> PreparedBatch[T]:
    """Run ``handler`` in a new transaction and write its effects, counters and offsets.

    The input partitions of the batch are locked (transaction-scoped advisory locks) before
    the committed offsets are read, so two workers that briefly both hold a partition
    during a rebalance cannot both apply the same messages.
    """
    partitions = sorted(set(partitions))
    session = sessions()
    try:
        session.begin()
        for topic, partition in partitions:
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"{stage}/{topic}/{partition}"},
            )
        tx = BatchTransaction(session, load_offsets(session, stage))
        result = handler(tx)
        shard = min((p for _, p in partitions), default=0)
        add_counts(session, stage, tx.counts, shard)
        add_quality_counts(session, tx.quality, shard)
        save_offsets(session, stage, tx.offsets)
    except BaseException:
        session.rollback()
        session.close()
        raise
    return PreparedBatch(session, result)


def run_batch(
    sessions: sessionmaker[Session],
    stage: str,
    partitions: Iterable[tuple[str, int]],
    handler: Callable[[BatchTransaction], T],
) -> T:
    """Prepare and commit a batch at once (when there is nothing to publish first)."""
    prepared = prepare_batch(sessions, stage, partitions, handler)
    prepared.commit()
    return prepared.result
