"""``gridbrain benchmark qlearning`` end to end on the price file of the dispatch benchmark."""

import json
from pathlib import Path

from click.testing import CliRunner

from gridbrain.cli.benchmark import benchmark


def test_qlearning_benchmark_prints_the_capture_ratios(
    prices: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, mapping = prices
    args = ["qlearning", "--csv", str(csv), "--mapping", str(mapping), "--epochs", "2"]
    args += ["--q-epochs", "5", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(benchmark, args)
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert {"capture_ratio", "lp_forecast_capture_ratio", "train_years", "test_days"} <= set(last)
    assert last["test_days"] == 29  # the days of `benchmark dispatch` on this file
    assert last["train_days"] > 90 and last["train_years"] == round(last["train_days"] / 365.25, 2)
    # Cheap nights and dear evenings repeat: the table learns to trade them.
    assert 0.5 < last["capture_ratio"] <= 1.0
    assert 0.5 < last["lp_forecast_capture_ratio"] <= 1.0
    assert (tmp_path / "out" / "qlearning_profit.png").stat().st_size > 10_000
