"""Worker reports and failure counts: what ``gridbrain status`` shows of the fleet."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridbrain.processors.identifiers import printable
from gridbrain.storage.models import Worker

if TYPE_CHECKING:  # transaction -> repositories -> the forecaster -> torch
    from gridbrain.storage.transaction import InputPosition

__all__ = ["WorkerReport", "count_failure", "forget_failure", "live_workers", "report_worker"]


@dataclass(frozen=True)
class WorkerReport:
    """One worker's state as it last reported it.

    Attributes:
        worker_id: ``host:pid``.
        roles: the stages it runs, e.g. ``clean,alert``.
        partitions: (topic, partition) pairs it holds.
        state: ``running`` or ``retrying`` (an outage).
        detail: what it is waiting for while retrying.
        retries: batch attempts retried after an outage since it started.
        quarantined: messages it quarantined since it started.
        updated_at: when it reported.
        metrics_port: the port of its Prometheus ``/metrics`` (None: not served).
    """

    worker_id: str
    roles: str
    partitions: list[tuple[str, int]]
    state: str
    detail: str
    retries: int
    quarantined: int
    updated_at: datetime | None = None
    metrics_port: int | None = None


def report_worker(session: Session, report: WorkerReport) -> None:
    """Save (replace) a worker's report."""
    session.execute(
        text(
            "INSERT INTO workers (worker_id, roles, partitions, state, detail, retries, "
            "quarantined, metrics_port) VALUES (:w, :r, CAST(:p AS jsonb), :s, :d, :n, :q, :m) "
            "ON CONFLICT (worker_id) DO UPDATE SET roles = EXCLUDED.roles, "
            "partitions = EXCLUDED.partitions, state = EXCLUDED.state, detail = EXCLUDED.detail, "
            "retries = EXCLUDED.retries, quarantined = EXCLUDED.quarantined, "
            "metrics_port = EXCLUDED.metrics_port, updated_at = now()"
        ),
        {
            "w": report.worker_id,
            "r": report.roles,
            "p": json.dumps(sorted(report.partitions)),
            "s": report.state,
            "d": printable(report.detail),
            "n": report.retries,
            "q": report.quarantined,
            "m": report.metrics_port,
        },
    )


def live_workers(session: Session, within_s: float) -> list[WorkerReport]:
    """Workers that reported within the last ``within_s`` seconds."""
    rows = session.scalars(
        select(Worker)
        .where(Worker.updated_at > text("now() - make_interval(secs => :s)"))
        .order_by(Worker.worker_id),
        {"s": within_s},
    )
    return [
        WorkerReport(
            w.worker_id,
            w.roles,
            [(str(t), int(str(p))) for t, p in w.partitions],
            w.state,
            w.detail,
            w.retries,
            w.quarantined,
            w.updated_at,
            w.metrics_port,
        )
        for w in rows
    ]


def count_failure(session: Session, stage: str, position: "InputPosition", error: str) -> int:
    """Count one more failure of ``stage`` on the message at ``position``; return the total.

    ``error`` (a traceback) is stored with its control characters escaped: it may quote
    the very input that failed.
    """
    failures = session.execute(
        text(
            'INSERT INTO batch_failures (stage, topic, "partition", "offset", failures, error) '
            "VALUES (:s, :t, :p, :o, 1, :e) "
            'ON CONFLICT (stage, topic, "partition", "offset") DO UPDATE SET '
            "failures = batch_failures.failures + 1, error = EXCLUDED.error, updated_at = now() "
            "RETURNING failures"
        ),
        {
            "s": stage,
            "t": position.topic,
            "p": position.partition,
            "o": position.offset,
            "e": printable(error),
        },
    ).scalar_one()
    return int(failures)


def forget_failure(session: Session, stage: str, position: "InputPosition") -> None:
    """Drop the failure count of a message that was quarantined."""
    session.execute(
        text(
            'DELETE FROM batch_failures WHERE stage = :s AND topic = :t AND "partition" = :p '
            'AND "offset" = :o'
        ),
        {"s": stage, "t": position.topic, "p": position.partition, "o": position.offset},
    )
