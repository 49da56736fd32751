"""Topic names and topic administration (kafka-python admin client)."""

import contextlib
import functools
import time

from aiokafka.partitioner import murmur2
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from gridbrain.errors import EmbeddedStackError
from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = [
    "ALERTS",
    "DEADLETTER",
    "FORECASTS",
    "FUSED",
    "INPUT_TOPICS",
    "REROUTED",
    "SCHEDULES",
    "SENSOR_READINGS",
    "WEATHER_FORECASTS",
    "WEATHER_OBSERVATIONS",
    "create_topics",
    "partition_of",
    "retention_ms_of",
    "topic_configs",
]

SENSOR_READINGS = "sensor.readings"
WEATHER_OBSERVATIONS = "weather.observations"
WEATHER_FORECASTS = "weather.forecasts"
FUSED = "gridbrain.fused"
REROUTED = "gridbrain.rerouted"
FORECASTS = "forecasts"
ALERTS = "alerts"
SCHEDULES = "schedules"
DEADLETTER = "deadletter"

#: Topics keyed by site id that must be co-partitioned (same partition count).
INPUT_TOPICS = (SENSOR_READINGS, WEATHER_OBSERVATIONS, WEATHER_FORECASTS, FUSED, REROUTED)
_OUTPUT_TOPICS = (FORECASTS, ALERTS, SCHEDULES, DEADLETTER)


@functools.lru_cache(maxsize=65_536)  # murmur2 is pure Python; on the clean stage's hot path
def partition_of(key: str, partitions: int) -> int:
    """The partition a keyed message goes to (Kafka's default partitioner, murmur2).

    >>> [partition_of(site, 4) for site in ("pv-north", "aq-centre")]
    [1, 3]
    """
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def retention_ms_of(hours: int) -> int:
    """``retention.ms`` for a retention of ``hours`` (``topic_retention_hours``); 0 = forever.

    >>> retention_ms_of(0), retention_ms_of(168)
    (-1, 604800000)
    """
    return -1 if hours <= 0 else hours * 3_600_000


def topic_configs(retention_ms: int = -1) -> dict[str, str]:
    """The configs every Gridbrain topic is created with (-1 = keep forever).

    They are always explicit: the embedded broker describes a topic with only the configs
    set at creation, and some clients (librdkafka-based) expect these keys to exist.
    Retention is by time only (``retention.bytes`` stays -1).

    >>> topic_configs()
    {'retention.ms': '-1', 'retention.bytes': '-1'}
    >>> topic_configs(retention_ms_of(72))["retention.ms"]
    '259200000'
    """
    if retention_ms < -1 or retention_ms == 0:
        raise ValueError(f"retention.ms must be -1 (forever) or positive, not {retention_ms}")
    return {"retention.ms": str(retention_ms), "retention.bytes": "-1"}


def create_topics(
    bootstrap: str,
    partitions: int,
    replication: int = 1,
    timeout_s: float = 30.0,
    retention_ms: int = -1,
    security: KafkaSecurity = PLAINTEXT,
) -> list[str]:
    """Create every Gridbrain topic that does not exist yet; return the ones created.

    ``retention_ms`` applies to the topics created here only (-1: keep forever; see
    ``retention_ms_of``); existing topics keep their configs. ``security``: TLS/SASL options
    of the connection (default: plaintext).

    Raises:
        EmbeddedStackError: the broker cannot be reached within ``timeout_s``.
        ValueError: ``retention_ms`` is 0 or below -1.
    """
    configs = topic_configs(retention_ms)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="gridbrain-admin",
                **security.kafka_python_kwargs(),
            )
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise EmbeddedStackError(f"Kafka at {bootstrap} unreachable: {exc}") from exc
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, partitions, replication, topic_configs=dict(configs))
            for name in (*INPUT_TOPICS, *_OUTPUT_TOPICS)
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        admin.close()
