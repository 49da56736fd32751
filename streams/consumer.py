"""Input topics read in plain batches by one aiokafka consumer per stage group.

Faust's consumer hands every message through its own thread, a conductor callback and a
topic buffer: tens of microseconds per message on the event loop, and its thread
contends for the GIL with the stage's. When devices send one reading per message that
machinery, not the stage, set the pace. Here each stage group (the stages that share a
thread and memory) reads its topics with one :class:`aiokafka.AIOKafkaConsumer` on the
worker's event loop: ``getmany`` hands over what the background fetcher already holds,
as records, a batch at a time.

The group's topics are co-partitioned (a site's readings and its rerouted readings, its
fused steps and its forecasts have the same partition number), so the consumers use
the range assignor: with equal partition counts, every member gets the same partition
numbers of every topic. Offsets are committed to Kafka after each batch only to start
close to where the stage stopped; exactly-once effects rest on the offsets the batch's
transaction stores (:mod:`storage.transaction`).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError

from gridbrain.streams import metrics
from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["GroupConsumer", "byte_chunks"]

_log = logging.getLogger(__name__)
_IDLE_MS = 5  # a batch is complete when nothing arrived for this long
_WAIT_MS = 1000  # one empty poll while waiting for the first message of a batch

Record: TypeAlias = ConsumerRecord[bytes, bytes]


class _Listener(ConsumerRebalanceListener):
    def __init__(self, on_assigned: Callable[[set[tuple[str, int]]], Awaitable[None]]) -> None:
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to hand over: effects and offsets are committed with each batch."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._on_assigned({(tp.topic, tp.partition) for tp in assigned})


class GroupConsumer:
    """One consumer group member reading ``topics`` in batches (see the module doc).

    Args:
        bootstrap: the brokers.
        group_id: the consumer group (one per stage group and set of roles).
        topics: the topics to read.
        on_assigned: awaited with the partitions held after every rebalance.
        session_timeout_s: the group session timeout.
        fetch_bytes: bytes fetched per partition at a time (a larger message still comes).
        security: TLS/SASL options of the connection (default: plaintext).
    """

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        topics: list[str],
        on_assigned: Callable[[set[tuple[str, int]]], Awaitable[None]],
        session_timeout_s: float,
        fetch_bytes: int = 4 << 20,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self._settings: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "partition_assignment_strategy": (RangePartitionAssignor,),
            "session_timeout_ms": int(session_timeout_s * 1000),
            "heartbeat_interval_ms": int(min(3.0, session_timeout_s / 4) * 1000),
            "max_partition_fetch_bytes": fetch_bytes,
            **security.aiokafka_kwargs(),
        }
        self._topics = topics
        self._on_assigned = on_assigned
        self._consumer: AIOKafkaConsumer | None = None
        self._label = group_id.rsplit(".", 1)[-1]  # the stage group, for the metrics
        self._next: dict[TopicPartition, int] = {}  # the offset after the last one taken

    async def start(self) -> None:
        """Connect (on the running loop); the group is joined in the background."""
        self._consumer = AIOKafkaConsumer(**self._settings)
        self._consumer.subscribe(self._topics, listener=_Listener(self._assigned))
        await self._consumer.start()

    async def _assigned(self, held: set[tuple[str, int]]) -> None:
        metrics.REBALANCES.labels(self._label).inc()
        metrics.ASSIGNED.labels(self._label).set(len(held))
        metrics.forget_partitions(self._label, held)
        self._next = {tp: o for tp, o in self._next.items() if (tp.topic, tp.partition) in held}
        await self._on_assigned(held)

    async def stop(self) -> None:
        """Leave the group and close."""
        if self._consumer is not None:
            await self._consumer.stop()

    @property
    def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the consumer is not started")
        return self._consumer

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member holds now."""
        if self._consumer is None:
            return set()
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def partition_count(self, topic: str) -> int | None:
        """How many partitions ``topic`` has, from the consumer's metadata (None: unknown)."""
        if self._consumer is None:
            return None
        partitions = self._consumer.partitions_for_topic(topic)
        return len(partitions) if partitions else None

    async def take(self, most: int, within_s: float) -> list[Record]:
        """Wait for records, then gather up to ``most`` for at most ``within_s`` seconds.

        Gathering stops when the fetcher runs dry a second time (after one wait of a few
        milliseconds for its next fetch): a batch is what has been fetched, and the stage
        is never idle while records wait. Records of one partition stay in order.
        """
        consumer = self._started
        loop = asyncio.get_running_loop()
        got: dict[TopicPartition, list[Record]] = {}
        while not got:
            got = await consumer.getmany(timeout_ms=_WAIT_MS, max_records=most)
        count = sum(len(r) for r in got.values())
        deadline = loop.time() + within_s
        waited = False
        while count < most:
            left_ms = int((deadline - loop.time()) * 1000)
            if left_ms <= 0:
                break
            wait_ms = 0 if not waited else min(_IDLE_MS, left_ms)
            more = await consumer.getmany(timeout_ms=wait_ms, max_records=most - count)
            if not more:
                if waited:
                    break
                waited = True  # one short wait per batch: a steady trickle must not stall it
                continue
            for tp, records in more.items():
                got.setdefault(tp, []).extend(records)
                count += len(records)
        self._observe_lag(got)
        return [r for records in got.values() for r in records]

    def _observe_lag(self, got: dict[TopicPartition, list[Record]]) -> None:
        """Lag per held partition: the fetch high watermark minus the next offset to take."""
        consumer = self._started
        for tp, records in got.items():
            self._next[tp] = records[-1].offset + 1
        lags = {}
        for tp in consumer.assignment():
            mark = consumer.highwater(tp)
            if mark is not None and tp in self._next:
                lags[(tp.topic, tp.partition)] = max(mark - self._next[tp], 0)
        metrics.observe_lag(self._label, lags)

    async def commit(self, records: list[Record]) -> None:
        """Commit the positions after ``records`` (a failure only means more redelivery)."""
        positions: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            positions[tp] = max(positions.get(tp, 0), r.offset + 1)
        consumer = self._started
        held = consumer.assignment()
        positions = {tp: o for tp, o in positions.items() if tp in held}
        if not positions:
            return
        try:
            await consumer.commit(positions)
        except KafkaError as exc:  # a rebalance in between: the next owner starts earlier
            _log.info("offset commit skipped (%s); the stage's own offsets stand", exc)


def byte_chunks(records: list[Record], max_bytes: int) -> Iterator[list[Record]]:
    """``records`` in runs whose values hold at most ``max_bytes`` (one record always fits)."""
    chunk: list[Record] = []
    size = 0
    for r in records:
        length = len(r.value or b"")
        if chunk and size + length > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(r)
        size += length
    if chunk:
        yield chunk
