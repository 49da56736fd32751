"""``gridbrain status``: per-stage accounting from the database, lag from the broker."""

import socket
from typing import Any

from sqlalchemy.orm import Session

from gridbrain.cli.services import database, kafka_security_of
from gridbrain.settings import Settings
from gridbrain.storage.queries import applied_offsets, stage_counts
from gridbrain.storage.workers import WorkerReport, live_workers
from gridbrain.streams.lag import end_offsets, lag_of
from gridbrain.streams.topics import INPUT_TOPICS, SENSOR_READINGS, WEATHER_OBSERVATIONS

__all__ = ["collect_status", "pipeline_status"]

_COUNTERS = ("messages", "received", "processed", "duplicates", "deadlettered")


def _embedded_broker_up(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def collect_status(settings: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows per (stage, topic) and per worker that reported within the last minute.

    Stage rows: counters, whether they balance, and consumer lag.

    ``balanced`` checks the accounting rule processed + duplicates + dead-lettered =
    received for the input topics. ``lag`` (messages after the last one whose effects the
    stage committed) is given for the topics a stage consumes; it is empty when no broker
    is reachable.
    """
    bootstrap = settings.kafka_bootstrap
    security = kafka_security_of(settings, embedded=not bootstrap)
    if not bootstrap and _embedded_broker_up(settings.embedded_kafka_port):
        bootstrap = f"127.0.0.1:{settings.embedded_kafka_port}"
    ends = end_offsets(bootstrap, list(INPUT_TOPICS), security) if bootstrap else {}
    with database(settings) as sessions, sessions() as session:
        return pipeline_status(session, ends, max(60.0, 6 * settings.worker_report_s))


def pipeline_status(
    session: Session, ends: dict[tuple[str, int], int], window_s: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Stage rows (with lag against ``ends``) and the workers reported within ``window_s``."""
    counts = stage_counts(session)
    applied = applied_offsets(session)
    workers = [_worker_row(r) for r in live_workers(session, within_s=window_s)]
    rows = []
    for (stage, topic), values in sorted(counts.items()):
        row: dict[str, Any] = {"stage": stage, "topic": topic}
        row.update({c: values.get(c, 0) for c in _COUNTERS})
        extra = {k: v for k, v in values.items() if k not in _COUNTERS}
        row["other"] = " ".join(f"{k}={v}" for k, v in sorted(extra.items()))
        accounted = row["processed"] + row["duplicates"] + row["deadlettered"]
        row["balanced"] = (
            accounted == row["received"] if topic in (SENSOR_READINGS, WEATHER_OBSERVATIONS) else ""
        )
        consumes = (stage, topic) in applied or (topic in INPUT_TOPICS and "received" in values)
        row["lag"] = (
            lag_of(applied.get((stage, topic), {}), ends, topic) if consumes and ends else ""
        )
        rows.append(row)
    return rows, workers


def _worker_row(r: WorkerReport) -> dict[str, Any]:
    """A worker's report as a row.

    ``state`` is ``retrying`` while it waits out an outage (``detail`` says which);
    ``retries`` counts batch attempts retried after outages, ``quarantined`` the messages
    dead-lettered whole after failing ``quarantine_after`` times.
    """
    return {
        "worker": r.worker_id,
        "roles": r.roles,
        "state": r.state,
        "partitions": _partitions(r.partitions),
        "retries": r.retries,
        "quarantined": r.quarantined,
        "detail": r.detail,
        "metrics_port": r.metrics_port,
        "reported": r.updated_at,
    }


def _partitions(held: list[tuple[str, int]]) -> str:
    """``sensor.readings:0,2 gridbrain.fused:1`` from (topic, partition) pairs."""
    per_topic: dict[str, list[int]] = {}
    for topic, partition in held:
        per_topic.setdefault(topic, []).append(partition)
    return " ".join(f"{t}:{','.join(map(str, sorted(p)))}" for t, p in sorted(per_topic.items()))
