"""End offsets of topics, read from fetch-response high watermarks.

The embedded broker's ListOffsets(LATEST) answer is wrong when the last record batch
holds more than one record, so end offsets are read from the high watermark that fetch
responses carry instead. Lag is then measured against the offsets whose effects each stage
has committed (table ``stream_offsets``), whichever consumer group the stage runs in.
"""

from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["end_offsets", "lag_of"]


def end_offsets(
    bootstrap: str, topics: list[str], security: KafkaSecurity = PLAINTEXT
) -> dict[tuple[str, int], int]:
    """The end offset of every partition of ``topics`` (empty when unreachable).

    ``security``: TLS/SASL options of the connection (default: plaintext).
    """
    from kafka import KafkaConsumer, TopicPartition  # imported here: the CLI starts faster
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=5000,
            consumer_timeout_ms=1000,
            max_partition_fetch_bytes=1024,
            **security.kafka_python_kwargs(),
        )
    except KafkaError:
        return {}
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or [])
        ]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        highwater: dict[tuple[str, int], int] = {}
        for _ in range(10):
            consumer.poll(timeout_ms=300)
            for tp in partitions:
                mark = consumer.highwater(tp)
                if mark is not None:
                    highwater[(tp.topic, tp.partition)] = mark
            if len(highwater) == len(partitions):
                break
        return highwater
    finally:
        consumer.close()


def lag_of(
    applied: dict[tuple[str, int], int], ends: dict[tuple[str, int], int], topic: str
) -> int:
    """Messages of ``topic`` after the last applied offset of each partition."""
    return sum(
        max(end - applied.get((t, p), -1) - 1, 0) for (t, p), end in ends.items() if t == topic
    )
