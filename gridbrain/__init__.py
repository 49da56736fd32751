"""Gridbrain: stream processing for renewable energy, smart grids and environment monitoring."""

__all__ = ["__version__"]

__version__ = "0.1.0"
