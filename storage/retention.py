"""Retention: delete the rows of the growing tables that are older than a number of days.

Each table is judged by one time column: ``readings.ts`` (event time of the step),
``forecast_issues.issued_at`` (a forecast run is one row, all its horizons at once),
``schedules.issued_at`` (dispatch plans, kept as long as forecasts),
``dead_letters.received_at`` and ``alert_history.at``. The ``alerts`` table itself (one
current row per incident) is never touched, and the history of an incident that is still
open (pending or firing) is kept however old it is.

Rows go in batches of ``batch_rows``, each one statement in its own short transaction::

    DELETE FROM t WHERE ctid IN (SELECT ctid FROM t WHERE col < :cutoff LIMIT :n)

so the runner never holds many row locks, nor any lock for long, against the ingesting
workers (a DELETE takes only ROW EXCLUSIVE on the table, which does not conflict with
their inserts and upserts).

Transactions: the repositories in ``storage/`` never commit; their caller owns the
transaction. The retention runner is the exception: it takes a ``sessionmaker`` and
commits each batch itself. A run stopped half-way leaves the batches already done
deleted, which is harmless: the next run goes on from there.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gridbrain.processors.alerting.lifecycle import AlertState

__all__ = [
    "RetentionResult",
    "RetentionRule",
    "apply_retention",
    "count_expired",
    "delete_expired",
    "retention_rules",
]

#: Called after each batch with the table and the rows that batch deleted.
Progress = Callable[[str, int], None]

_OPEN_STATES = ", ".join(f"'{s.value}'" for s in (AlertState.PENDING, AlertState.FIRING))
# History rows of an incident that is still open are kept (``t`` is the history table).
_NOT_OPEN_INCIDENT = (
    "NOT EXISTS (SELECT 1 FROM alerts a WHERE a.dedup_key = t.dedup_key "
    f"AND a.started_at = t.started_at AND a.state IN ({_OPEN_STATES}))"
)


@dataclass(frozen=True)
class RetentionRule:
    """Delete rows of ``table`` whose ``column`` is older than ``days`` (0: keep forever).

    ``keep`` is an extra SQL condition (on the table aliased ``t``) a row must meet to go.
    """

    table: str
    column: str
    days: int
    keep: str | None = None

    def cutoff(self, now: datetime) -> datetime | None:
        """Rows older than this go; None when the table is kept forever."""
        return None if self.days <= 0 else now - timedelta(days=self.days)

    def _where(self) -> str:
        condition = f"t.{self.column} < :cutoff"
        return f"{condition} AND {self.keep}" if self.keep else condition


@dataclass(frozen=True)
class RetentionResult:
    """What one rule did: ``rows`` deleted (or that would go, on a dry run)."""

    table: str
    column: str
    days: int
    cutoff: datetime | None
    rows: int
    batches: int
    seconds: float
    dry_run: bool


def retention_rules(
    *,
    readings_days: int,
    forecasts_days: int,
    dead_letters_days: int,
    alert_history_days: int,
) -> list[RetentionRule]:
    """The rules of every table Gridbrain prunes, with the given ages in days (0: keep).

    >>> [(r.table, r.column) for r in retention_rules(
    ...     readings_days=0, forecasts_days=30, dead_letters_days=30, alert_history_days=90)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('readings', 'ts'), ('forecast_issues', 'issued_at'), ('schedules', 'issued_at'),
     ('dead_letters', 'received_at'), ('alert_history', 'at')]
    """
    return [
        RetentionRule("readings", "ts", readings_days),
        RetentionRule("forecast_issues", "issued_at", forecasts_days),
        RetentionRule("schedules", "issued_at", forecasts_days),
        RetentionRule("dead_letters", "received_at", dead_letters_days),
        RetentionRule("alert_history", "at", alert_history_days, keep=_NOT_OPEN_INCIDENT),
    ]


def count_expired(session: Session, rule: RetentionRule, cutoff: datetime) -> int:
    """How many rows ``rule`` would delete at ``cutoff`` (read only)."""
    sql = f"SELECT count(*) FROM {rule.table} t WHERE {rule._where()}"
    return int(session.scalar(text(sql), {"cutoff": cutoff}) or 0)


def delete_expired(
    sessions: sessionmaker[Session],
    rule: RetentionRule,
    cutoff: datetime,
    batch_rows: int,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Delete ``rule``'s rows older than ``cutoff``, ``batch_rows`` per committed transaction.

    Stops after the first batch that deletes fewer than ``batch_rows`` rows (rows a worker
    updated during that very batch are left to the next run). Returns (rows, batches).
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    sql = text(
        f"DELETE FROM {rule.table} WHERE ctid IN "
        f"(SELECT t.ctid FROM {rule.table} t WHERE {rule._where()} LIMIT :n)"
    )
    total = batches = 0
    while True:
        with sessions.begin() as session:
            deleted = session.connection().execute(sql, {"cutoff": cutoff, "n": batch_rows})
            rows = deleted.rowcount
        total += rows
        batches += 1
        if progress is not None and rows:
            progress(rule.table, rows)
        if rows < batch_rows:
            return total, batches


def apply_retention(
    sessions: sessionmaker[Session],
    rules: Sequence[RetentionRule],
    batch_rows: int,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> list[RetentionResult]:
    """Apply every rule (delete, or only count with ``dry_run``); one result per rule.

    ``now`` (default: the wall clock) fixes the cutoffs, computed once for the whole run.
    """
    now = now or datetime.now(UTC)
    results = []
    for rule in rules:
        started = time.perf_counter()
        cutoff = rule.cutoff(now)
        rows = batches = 0
        if cutoff is not None and dry_run:
            with sessions() as session:
                rows = count_expired(session, rule, cutoff)
        elif cutoff is not None:
            rows, batches = delete_expired(sessions, rule, cutoff, batch_rows, progress)
        seconds = time.perf_counter() - started
        results.append(
            RetentionResult(
                rule.table, rule.column, rule.days, cutoff, rows, batches, seconds, dry_run
            )
        )
    return results
