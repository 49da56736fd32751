"""Consumer lag per topic, from committed offsets and fetch-response high watermarks.

The embedded broker's ListOffsets(LATEST) answer is wrong when the last record batch
holds more than one record, so end offsets are read from the high watermark that fetch
responses carry instead.
"""

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

__all__ = ["consumer_lag"]


def consumer_lag(bootstrap: str, group: str, topics: list[str]) -> dict[str, int]:
    """Messages not yet committed by ``group`` per topic (empty when unreachable)."""
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=5000,
            consumer_timeout_ms=1000,
        )
        committer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
    except KafkaError:
        return {}
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or [])
        ]
        committed = {tp: committer.committed(tp) or 0 for tp in partitions}
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, max(committed[tp] - 1, 0))
        highwater: dict[TopicPartition, int] = {}
        for _ in range(10):
            consumer.poll(timeout_ms=300)
            highwater = {
                tp: consumer.highwater(tp)
                for tp in partitions
                if consumer.highwater(tp) is not None
            }
            if len(highwater) == len(partitions):
                break
        lag: dict[str, int] = {}
        for tp in partitions:
            lag[tp.topic] = lag.get(tp.topic, 0) + max(
                highwater.get(tp, committed[tp]) - committed[tp], 0
            )
        return lag
    finally:
        consumer.close()
        committer.close()
