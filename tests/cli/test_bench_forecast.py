"""``gridbrain benchmark forecast-stage``: the replay measure, and the command end to end."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gridbrain.cli.bench_forecast import load_values, replay_seconds
from gridbrain.cli.benchmark import benchmark
from gridbrain.processors.forecast.arx import Arx
from gridbrain.settings import Settings


def test_load_values_are_a_daily_cycle_per_series() -> None:
    values = load_values(3, 0, 96 * 4, 900_000)
    assert values.shape == (3, 384)
    daily = values.reshape(3, 4, 96).mean(axis=1)
    assert np.all(daily.max(axis=1) > 1.3 * daily.min(axis=1))


def test_replay_forecasts_every_hour_of_a_half_hourly_series() -> None:
    seconds, forecasts = replay_seconds(Arx(), Settings(), days=3)
    # Hourly issues from the fourth observed step on (persistence, then seasonal naive,
    # then AR-X after two days).
    assert 3 * 24 - 3 <= forecasts <= 3 * 24
    assert seconds > 0


@pytest.mark.integration
def test_forecast_stage_command_runs_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDBRAIN_FORECAST_BATCH_MAX", "16")  # several committed batches
    result = CliRunner().invoke(
        benchmark,
        ["forecast-stage", "--model", "arx", "--series", "4", "--steps", "16",
         "--per-message", "1", "--seconds", "0.1", "--replay-days", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert last["stage"] == "forecast" and last["model"] == "arx"
    assert last["forecasts"] == 4 * 4
    assert last["rate"] > 0 and last["ceiling"] > 0
    assert last["ratio"] == pytest.approx(last["rate"] / last["ceiling"], rel=0.01)
    assert last["replay_3y_s"] > 0
