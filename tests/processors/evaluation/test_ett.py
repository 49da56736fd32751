"""The ETT protocol reproduces the published "Repeat" rows exactly; DLinear its own row."""

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gridbrain.cli.main import cli
from gridbrain.settings import Settings

ETT = Settings().shared_data_dir / "ETT"


def ett_file(name: str) -> Path:
    path = ETT / name
    if not path.exists():
        pytest.skip(f"shared data set not found: {path} (set GRIDBRAIN_SHARED_DATA_DIR)")
    return path


def run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["benchmark", "ett", *args])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("name", "horizon", "windows", "mse", "mae"),
    [
        pytest.param("ETTh1.csv", 96, 2785, 1.294, 0.713, id="etth1_96"),
        pytest.param("ETTh1.csv", 720, 2161, 1.335, 0.755, id="etth1_720"),
        pytest.param("ETTh2.csv", 336, 2545, 0.597, 0.511, id="etth2_336"),
    ],
)
def test_repeat_baseline_matches_benchmarks_md(
    name: str, horizon: int, windows: int, mse: float, mae: float
) -> None:
    result = run("--file", str(ett_file(name)), "--horizon", str(horizon), "--model", "repeat")
    assert result["windows"] == windows
    assert (round(result["mse"], 3), round(result["mae"], 3)) == (mse, mae)


@pytest.mark.timeout(1800)  # training on 2 cores: about 20 s (linear) and 2 min (sparse)
def test_the_ensemble_and_its_members_reach_the_published_rows_at_h96() -> None:
    result = run("--file", str(ett_file("ETTh1.csv")), "--horizon", "96", "--model", "ensemble")
    assert result["windows"] == 2785
    members = result["members"]
    # RLinear (Li et al. 2023), published 0.366 (drop_last); PatchTST/64: 0.370.
    assert members["linear"]["mse"] < 0.380 and members["linear"]["mae"] < 0.400
    # SparseTSF (Lin et al. 2024), L=720; beats PatchTST/64's 0.370.
    assert members["linear_sparse"]["mse"] < 0.370 and members["linear_sparse"]["mae"] < 0.400
    # Their mean.
    assert result["mse"] < 0.370 and result["mae"] < 0.400
