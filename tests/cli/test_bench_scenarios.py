"""``gridbrain benchmark scenarios`` end to end on a small household file of EMHASS's layout."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from gridbrain.cli.benchmark import benchmark


def test_scenarios_benchmark_scores_and_dispatches(tmp_path: Path) -> None:
    stamps = pd.date_range("2024-11-01", periods=60 * 48, freq="30min", tz="UTC")
    rng = np.random.default_rng(4)
    hour = stamps.tz_convert("Europe/Paris").hour.to_numpy()
    evening = np.where((hour >= 18) & (hour < 22), 2500.0, 400.0)
    load = evening * rng.lognormal(0, 0.3, len(stamps))
    pv = np.where((hour >= 9) & (hour < 16), 800.0, np.nan)
    folder = tmp_path / "emhass"
    folder.mkdir()
    pd.DataFrame(
        {
            "timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S+00:00"),
            "sensor.power_load_no_var_loads": load,
            "sensor.power_photovoltaics": pv,
        }
    ).to_csv(folder / "long_train_data.csv", index=False)
    args = ["scenarios", "--data-dir", str(folder), "--scenarios", "20", "--iterations", "30"]
    args += ["--epochs", "2", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(benchmark, args)
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert set(last["energy_score"]) == {"gan", "copula", "independent"}
    assert all(v > 0 for v in last["variogram_score"].values())
    assert last["test_days"] == 11 and last["learn_days"] > 30
    costs = last["costs"]
    assert costs["perfect foresight"] < costs["no battery"]
    assert costs["copula scenarios"] <= costs["no battery"] + 1.0
    assert (tmp_path / "out" / "scenarios_day.png").stat().st_size > 10_000


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(benchmark, ["scenarios", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0 and "emhass_household not found" in result.output
