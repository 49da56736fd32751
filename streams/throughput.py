"""The Python ceiling: how fast a bare aiokafka consumer reads, decodes and windows a topic.

The same job every stream engine was measured on (see the README's performance section):
parse each message, and with ``windows`` keep a per-(site, quantity) tumbling mean by
event time in a plain dict, emitting each window when a newer one starts. No validation,
no state saved, no output: what any real stage does costs more.
"""

import asyncio
import json
import time
from typing import Any

from aiokafka import AIOKafkaConsumer

from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["raw_consumer_rate"]


class _DictWindows:
    """Tumbling means per (site, quantity) in a dict; a window closes when a newer starts."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.open: dict[tuple[str, str], list[float]] = {}  # key -> [window, sum, count]
        self.closed = 0

    def add(self, item: Any) -> None:
        try:
            key = (item["site_id"], item["quantity"])
            window = item["ts"] // self.window_ms
            value = float(item["value"])
        except (KeyError, TypeError, ValueError):
            return
        state = self.open.get(key)
        if state is None:
            self.open[key] = [window, value, 1]
        elif state[0] == window:
            state[1] += value
            state[2] += 1
        elif window > state[0]:
            self.closed += 1  # emit state[1] / state[2]
            self.open[key] = [window, value, 1]


async def _consume(
    bootstrap: str, topic: str, idle_s: float, window_ms: int | None, security: KafkaSecurity
) -> tuple[int, float]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
        **security.aiokafka_kwargs(),
    )
    await consumer.start()
    windows = _DictWindows(window_ms) if window_ms else None
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
                    items = decoded if isinstance(decoded, list) else [decoded]
                    readings += len(items)
                    if windows is not None:
                        for item in items:
                            windows.add(item)
                last = time.perf_counter()
    finally:
        await consumer.stop()
    return readings, last - first


def raw_consumer_rate(
    bootstrap: str,
    topic: str,
    idle_s: float = 2.0,
    window_ms: int | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> tuple[int, float]:
    """Read ``topic`` from the start with aiokafka + ``json.loads`` until idle for ``idle_s``.

    ``window_ms``: also keep per-(site, quantity) tumbling means of that length in a dict
    (the "dict-window" ceiling of the stream-engine comparison). ``security``: TLS/SASL
    options of the connection (default: plaintext).

    Returns:
        The readings decoded (array items, or 1 per other message) and the seconds from the
        first to the last record.
    """
    return asyncio.run(_consume(bootstrap, topic, idle_s, window_ms, security))
