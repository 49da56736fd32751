"""Windows whose target steps carry weather text beside the numeric weather."""

from dataclasses import dataclass

import numpy as np

from gridbrain.processors.forecast.batch import WindowBatch

__all__ = ["TextWindowBatch", "with_text"]


@dataclass(frozen=True)
class TextWindowBatch(WindowBatch):
    """A :class:`WindowBatch` plus the weather text of every target step and place.

    Attributes:
        text: one text per window, target step and place (e.g. city), shape (B, H, C);
            ``""`` where unknown.
    """

    text: np.ndarray

    def take(self, index: np.ndarray | slice) -> "TextWindowBatch":
        """The windows at ``index``."""
        return with_text(super().take(index), self.text[index])


def with_text(batch: WindowBatch, text: np.ndarray) -> TextWindowBatch:
    """``batch`` with the weather text (B, H, C) of its target steps.

    >>> from gridbrain.processors.forecast.batch import WindowBatch
    >>> b = WindowBatch(np.zeros((1, 3)), np.zeros((1, 4, 0)), np.zeros(1), 1, 1,
    ...                 np.full(1, np.nan), np.full(1, np.nan))
    >>> with_text(b, np.array([[["fog"]]])).take(slice(0, 1)).text.tolist()
    [[['fog']]]
    """
    return TextWindowBatch(
        batch.y,
        batch.exog,
        batch.last_ts_ms,
        batch.step_ms,
        batch.horizon,
        batch.latitude,
        batch.longitude,
        np.asarray(text, dtype=object),
    )
