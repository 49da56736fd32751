"""``gridbrain benchmark pareto`` end to end on a small file of the Spanish layout."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from gridbrain.cli.bench_pareto import carbon_intensity
from gridbrain.cli.benchmark import benchmark


def test_pareto_command_compares_the_fronts(tmp_path: Path) -> None:
    hours = pd.date_range("2018-03-06", periods=72, freq="h", tz="Europe/Madrid")
    rng = np.random.default_rng(5)
    hour = hours.hour.to_numpy()
    frame = pd.DataFrame(
        {
            "time": hours.strftime("%Y-%m-%d %H:%M:%S%z"),
            "price actual": 50 + 25 * np.sin((hour - 8) / 24 * 2 * np.pi) + rng.normal(0, 3, 72),
            "generation fossil gas": 8000 + 3000 * np.cos(hour / 24 * 2 * np.pi),
            "generation solar": np.maximum(0, 4000 * np.sin((hour - 6) / 12 * np.pi)),
            "generation nuclear": np.full(72, 7000.0),
        }
    )
    csv = tmp_path / "energy.csv"
    frame.to_csv(csv, index=False)
    args = ["pareto", "--csv", str(csv), "--days", "2018-03-07", "--population", "40"]
    args += ["--generations", "60", "--co2-levels", "16", "--wear-levels", "4"]
    result = CliRunner().invoke(benchmark, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert {"hypervolume_ratio", "igd_plus", "ga_cost_gap", "points"} <= set(last)
    assert last["points"] >= 10 and 0.5 < last["hypervolume_ratio"] < 1.2
    assert 0 <= last["ga_cost_gap"] < 0.05
    assert (tmp_path / "out" / "pareto_fronts.png").stat().st_size > 10_000


def test_a_day_without_generation_is_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame({"time": ["2018-03-07 00:00:00+01:00"], "price actual": [50.0]})
    csv = tmp_path / "energy.csv"
    frame.to_csv(csv, index=False)
    result = CliRunner().invoke(benchmark, ["pareto", "--csv", str(csv), "--days", "2018-03-07"])
    assert result.exit_code != 0 and "no whole day" in result.output


def test_carbon_intensity_of_a_mix() -> None:
    mix = pd.DataFrame({"generation fossil hard coal": [50.0], "generation wind onshore": [50.0]})
    assert carbon_intensity(mix).tolist() == [415.5]
