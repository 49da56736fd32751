"""``python -m gridbrain.cli``: the ``gridbrain`` command."""

from gridbrain.cli.main import main

main()
