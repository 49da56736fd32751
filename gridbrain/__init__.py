"""Gridbrain: stream processing for renewable energy, smart grids and environment monitoring.

One import name, layered from the bottom up:

- ``gridbrain.errors``, ``gridbrain.settings``: the foundation every layer may use;
- ``gridbrain.processors``: pure stages (plain data in and out);
- ``gridbrain.storage``: the database (models, migrations, repositories);
- ``gridbrain.streams``: thin Faust wiring of the stages to topics and storage;
- ``gridbrain.cli``: the command line and what it drives, on top of everything.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
