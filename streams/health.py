"""What a worker reports about itself: partitions held, outages, retries, quarantines."""

import logging
import os
import socket
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from gridbrain.storage.workers import WorkerReport, report_worker

__all__ = ["WorkerHealth"]

_log = logging.getLogger(__name__)


@dataclass
class WorkerHealth:
    """A worker's state, kept in memory and saved by :meth:`report` (a timer).

    Attributes:
        roles: the stages the worker runs, e.g. ``clean,alert``.
        worker_id: ``host:pid``.
        partitions: the (topic, partition) pairs it holds since the last rebalance.
        state: ``running``, or ``retrying`` during an outage.
        detail: the outage being retried.
        retries: batch attempts retried after an outage.
        quarantined: messages quarantined after repeated failures.
        metrics_port: the port of its Prometheus ``/metrics`` (None: not served).
    """

    roles: str
    metrics_port: int | None = None
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    partitions: list[tuple[str, int]] = field(default_factory=list)
    state: str = "running"
    detail: str = ""
    retries: int = 0
    quarantined: int = 0

    def retrying(self, detail: str) -> None:
        """An attempt failed with an outage and will be retried."""
        self.state, self.detail = "retrying", detail
        self.retries += 1

    def recovered(self) -> None:
        """The outage is over."""
        self.state, self.detail = "running", ""

    def report(self, sessions: sessionmaker[Session]) -> None:
        """Save the report (in its own short transaction); an outage is only logged."""
        report = WorkerReport(
            self.worker_id,
            self.roles,
            list(self.partitions),
            self.state,
            self.detail,
            self.retries,
            self.quarantined,
            metrics_port=self.metrics_port,
        )
        try:
            with sessions() as session, session.begin():
                report_worker(session, report)
        except Exception as exc:  # the database may be the outage being reported
            _log.info("worker report not saved: %s", exc)
