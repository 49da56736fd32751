"""The command line (``gridbrain ...``) and what it drives.

The embedded stack, the demo fleet, CSV replays, training, benchmarks and reports. It
sits on top of every layer; nothing below it imports it.
"""

__all__ = ["main"]


def main() -> None:
    """Run the ``gridbrain`` command (imports the click commands on first use)."""
    from gridbrain.cli.main import main as run

    run()
