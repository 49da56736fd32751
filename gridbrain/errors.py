"""The project's one exception root and its domain-named subclasses.

Each class says whether trying again can help (``retriable``, as in aiokafka's hierarchy).
Policy is decided at the edges: the stream executor (``streams/policy.py``) retries
outages, isolates and dead-letters data errors and quarantines batches that keep failing;
CLI commands turn :class:`GridbrainError` into a clear message and a non-zero exit.
"""

__all__ = [
    "ConfigurationError",
    "EmbeddedStackError",
    "GridbrainError",
    "InvalidMessageError",
    "ModelError",
    "OutageError",
]


class GridbrainError(Exception):
    """Root of every error Gridbrain raises on purpose.

    Attributes:
        retriable: whether the same work may succeed later unchanged (an outage), as
            opposed to an error of the input or the configuration.
    """

    retriable: bool = False


class OutageError(GridbrainError, ConnectionError):
    """A service a stage needs (database, broker, webhook) cannot be reached right now."""

    retriable = True


class ConfigurationError(GridbrainError, ValueError):
    """A setting or a mapping file is invalid."""


class InvalidMessageError(GridbrainError, ValueError):
    """A message or one item of it cannot be accepted.

    Attributes:
        reason: a short machine-readable reason, e.g. ``unknown_unit``; it is what the
            dead-letter topic and table record.
        detail: a human-readable explanation.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class EmbeddedStackError(GridbrainError, RuntimeError):
    """The embedded broker or database could not be started or reached."""


class ModelError(GridbrainError, RuntimeError):
    """A forecasting model cannot be trained, loaded or used for a batch.

    The forecasting stage answers with a fallback model and records why.
    """
