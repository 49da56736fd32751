"""The command line answers like one: help and light commands load no model stack."""

import subprocess
import sys

from click.testing import CliRunner

from gridbrain.cli.main import _LazyGroup, cli


def test_help_lists_every_command_without_importing_torch_or_pandas() -> None:
    code = (
        "import sys\n"
        "from gridbrain.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'pandas', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("[]"), out
    for name in _LazyGroup._LAZY:
        assert f"  {name} " in out


def test_each_lazy_command_loads_when_asked_for() -> None:
    for name in _LazyGroup._LAZY:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
