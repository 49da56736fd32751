"""Topic names and topic administration (kafka-python admin client)."""

import contextlib
import time

from aiokafka.partitioner import murmur2
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from gridbrain.errors import EmbeddedStackError

__all__ = [
    "ALERTS",
    "DEADLETTER",
    "FORECASTS",
    "FUSED",
    "INPUT_TOPICS",
    "SENSOR_READINGS",
    "WEATHER_FORECASTS",
    "WEATHER_OBSERVATIONS",
    "create_topics",
    "partition_of",
]

SENSOR_READINGS = "sensor.readings"
WEATHER_OBSERVATIONS = "weather.observations"
WEATHER_FORECASTS = "weather.forecasts"
FUSED = "gridbrain.fused"
FORECASTS = "forecasts"
ALERTS = "alerts"
DEADLETTER = "deadletter"

#: Topics keyed by site id that must be co-partitioned (same partition count).
INPUT_TOPICS = (SENSOR_READINGS, WEATHER_OBSERVATIONS, WEATHER_FORECASTS, FUSED)
_OUTPUT_TOPICS = (FORECASTS, ALERTS, DEADLETTER)


def partition_of(key: str, partitions: int) -> int:
    """The partition a keyed message goes to (Kafka's default partitioner, murmur2).

    >>> [partition_of(site, 4) for site in ("pv-north", "aq-centre")]
    [1, 3]
    """
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


# Explicit retention configs: the embedded broker describes a topic with only the configs
# set at creation, and some clients (librdkafka-based) expect these keys to exist.
_CONFIGS = {"retention.ms": "-1", "retention.bytes": "-1"}


def create_topics(
    bootstrap: str, partitions: int, replication: int = 1, timeout_s: float = 30.0
) -> list[str]:
    """Create every Gridbrain topic that does not exist yet; return the ones created.

    Raises:
        EmbeddedStackError: the broker cannot be reached within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="gridbrain-admin")
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise EmbeddedStackError(f"Kafka at {bootstrap} unreachable: {exc}") from exc
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, partitions, replication, topic_configs=dict(_CONFIGS))
            for name in (*INPUT_TOPICS, *_OUTPUT_TOPICS)
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        admin.close()
