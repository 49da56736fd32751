"""The Python ceiling: how fast a bare aiokafka consumer reads and decodes a topic."""

import asyncio
import json
import time

from aiokafka import AIOKafkaConsumer

__all__ = ["raw_consumer_rate"]


async def _consume(bootstrap: str, topic: str, idle_s: float) -> tuple[int, float]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    readings, first, last = 0, 0.0, 0.0
    idle_since = time.perf_counter()
    try:
        while time.perf_counter() - idle_since < idle_s:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                first = first or time.perf_counter()
                idle_since = time.perf_counter()
                for record in records:
                    try:
                        decoded = json.loads(record.value or b"")
                    except ValueError:
                        decoded = None
                    readings += len(decoded) if isinstance(decoded, list) else 1
                last = time.perf_counter()
    finally:
        await consumer.stop()
    return readings, last - first


def raw_consumer_rate(bootstrap: str, topic: str, idle_s: float = 2.0) -> tuple[int, float]:
    """Read ``topic`` from the start with aiokafka + ``json.loads`` until idle for ``idle_s``.

    Returns:
        The readings decoded (array items, or 1 per other message) and the seconds from the
        first to the last record.
    """
    return asyncio.run(_consume(bootstrap, topic, idle_s))
