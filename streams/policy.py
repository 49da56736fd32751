"""The error policy of the stream stages: whether a failure is an outage, bad data or a bug.

- **Outage** (database or broker unreachable, connection lost, timeouts): the same batch
  is retried with capped exponential backoff, without advancing offsets, for as long as it
  takes. The worker stays up and says so in its log and in ``gridbrain status``.
- **Data** (the database refused a value, text it cannot store, JSON too deep to decode):
  the failing message is found by bisecting the batch and dead-lettered with a reason;
  the rest of the batch goes on.
- **Bug** (anything else): the message that triggers it is found the same way; the worker
  exits (the supervisor restarts it) until the same message has failed
  ``quarantine_after`` times, then it is quarantined: dead-lettered whole, with the
  traceback, and the stage moves on.
"""

import asyncio
import enum
import random
from dataclasses import dataclass

import psycopg2
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from sqlalchemy import exc as sa_exc

from gridbrain.errors import GridbrainError

__all__ = ["Backoff", "Verdict", "classify", "reason_of"]


class Verdict(enum.Enum):
    """What a failure is, and so what the executor does with it."""

    OUTAGE = "outage"
    DATA = "data"
    BUG = "bug"


_OUTAGE_DBAPI = (psycopg2.OperationalError, psycopg2.InterfaceError)
_DATA_DBAPI = (psycopg2.DataError, psycopg2.IntegrityError)


def classify(exc: BaseException) -> Verdict:
    """The verdict on a failure of a stage's batch.

    >>> classify(ConnectionRefusedError()), classify(RecursionError()), classify(KeyError())
    (<Verdict.OUTAGE: 'outage'>, <Verdict.DATA: 'data'>, <Verdict.BUG: 'bug'>)
    """
    if isinstance(exc, GridbrainError):
        return Verdict.OUTAGE if exc.retriable else Verdict.DATA
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc.orig, _OUTAGE_DBAPI):
            return Verdict.OUTAGE
        return Verdict.DATA if isinstance(exc.orig, _DATA_DBAPI) else Verdict.BUG
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError, *_OUTAGE_DBAPI)):
        return Verdict.OUTAGE
    if isinstance(exc, _DATA_DBAPI):
        return Verdict.DATA
    if isinstance(exc, KafkaError):
        retriable = exc.retriable or isinstance(exc, KafkaConnectionError | KafkaTimeoutError)
        return Verdict.OUTAGE if retriable else Verdict.BUG
    if isinstance(exc, ConnectionError | TimeoutError | asyncio.TimeoutError):
        return Verdict.OUTAGE
    if isinstance(exc, RecursionError | UnicodeError):
        return Verdict.DATA
    if isinstance(exc, ValueError) and "NUL" in str(exc):  # psycopg2 refuses NUL in text
        return Verdict.DATA
    return Verdict.BUG


def reason_of(exc: BaseException) -> str:
    """A short dead-letter reason for a data error.

    >>> reason_of(RecursionError())
    'too_deeply_nested'
    """
    if isinstance(exc, RecursionError):
        return "too_deeply_nested"
    if isinstance(exc, sa_exc.DBAPIError | psycopg2.Error):
        return "database_refused"
    if isinstance(exc, ValueError) and "NUL" in str(exc):
        return "database_refused"
    return "data_error"


@dataclass
class Backoff:
    """Capped exponential backoff with jitter between retries of an outage.

    >>> b = Backoff(first_s=1.0, cap_s=4.0, jitter=0.0)
    >>> [b.next_delay() for _ in range(4)]
    [1.0, 2.0, 4.0, 4.0]
    """

    first_s: float = 0.5
    cap_s: float = 10.0
    jitter: float = 0.2
    attempts: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt (and count the attempt)."""
        delay = min(self.cap_s, self.first_s * 2**self.attempts)
        self.attempts += 1
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        """Start again from the first delay (after a success)."""
        self.attempts = 0
