"""The project's one exception root and its domain-named subclasses.

Policy (dead-letter, retry or crash) is decided at the edges: agents in ``streams/``
dead-letter :class:`InvalidMessageError` and crash on anything else; CLI commands turn
:class:`GridbrainError` into a clear message and a non-zero exit.
"""

__all__ = [
    "ConfigurationError",
    "EmbeddedStackError",
    "GridbrainError",
    "InvalidMessageError",
    "ModelError",
]


class GridbrainError(Exception):
    """Root of every error Gridbrain raises on purpose."""


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
