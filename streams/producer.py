"""Producing messages with kafka-python: rate limiting and delivery accounting."""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kafka import KafkaProducer

from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["ProduceStats", "produce"]


@dataclass
class ProduceStats:
    """What a produce run sent."""

    messages: int = 0
    bytes: int = 0
    seconds: float = 0.0


def produce(
    bootstrap: str,
    messages: Iterable[tuple[str, bytes | None, bytes]],
    rate: float | None = None,
    on_sent: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    security: KafkaSecurity = PLAINTEXT,
) -> ProduceStats:
    """Send (topic, key, value) messages; ``rate`` caps messages per second.

    Delivery is confirmed (flush) before returning; a send failure raises. ``security``:
    TLS/SASL options of the connection (default: plaintext).
    """
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        batch_size=512 * 1024,
        # Idempotent: a batch retried after a timeout is neither duplicated nor reordered
        # (a reordered replay would make readings arrive after their step closed).
        acks="all",
        enable_idempotence=True,
        compression_type=None,
        client_id="gridbrain-producer",
        **security.kafka_python_kwargs(),
    )
    stats = ProduceStats()
    start = time.monotonic()
    try:
        for topic, key, value in messages:
            if should_stop():
                break
            producer.send(topic, key=key, value=value)
            stats.messages += 1
            stats.bytes += len(value)
            if on_sent is not None:
                on_sent(1)
            if rate:
                ahead = stats.messages / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush()
    finally:
        producer.close()
    stats.seconds = time.monotonic() - start
    return stats
