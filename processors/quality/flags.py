"""Quality flags of readings and resampled steps."""

from enum import IntEnum

__all__ = ["Flag"]


class Flag(IntEnum):
    """Why a reading was left out of the clean series (``OK``: it was not)."""

    OK = 0
    SPIKE = 1
    RATE = 2
    FLATLINE = 3

    @property
    def label(self) -> str:
        """Lower-case name used in counts and tables."""
        return self.name.lower()
