"""``gridbrain benchmark latency``: rows of every stage seen under a steady load, timed."""

import json

import pytest
from click.testing import CliRunner

from gridbrain.cli.benchmark import benchmark


@pytest.mark.integration
@pytest.mark.parametrize("split", ["--no-split", "--split"])
def test_latency_command_times_forecast_and_alert_rows(split: str) -> None:
    args = ["latency", split, "--rate", "2000", "--sites", "20", "--per-message", "20"]
    result = CliRunner().invoke(benchmark, [*args, "--duration", "15", "--drain", "10"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["stage"] == "latency" and last["rate"] > 1500
    assert last["workers"] == (2 if split == "--split" else 1)
    for stage in ("forecast", "alert"):
        figures = last[stage]
        assert figures["rows"] > 0, stage
        assert 0 < figures["p50"] <= figures["p99"] <= figures["max"] < 30, stage
