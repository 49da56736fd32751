"""``benchmark operator`` on the Spanish data: the anchor recomputed with pandas alone."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gridbrain.cli.bench_operator import operator
from gridbrain.settings import Settings

HOURS = 6000


def test_solar_against_the_operator_on_the_first_hours() -> None:
    folder = Settings().shared_data_dir / "spain_energy_weather"
    if not (folder / "energy_dataset.csv").exists():
        pytest.skip(f"spain_energy_weather not in {folder} (set GRIDBRAIN_SHARED_DATA_DIR)")
    result = CliRunner().invoke(operator, ["--series", "solar", "--hours", str(HOURS)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    energy = pd.read_csv(folder / "energy_dataset.csv").iloc[int(0.8 * HOURS) : HOURS]
    known = energy["generation solar"].notna()
    expected = (energy["forecast solar day ahead"] - energy["generation solar"])[known].abs()
    assert summary["anchor_mae"] == pytest.approx(expected.mean(), abs=0.01)
    assert summary["test_hours"] == int(known.sum())
    assert summary["columns"] == ["generation solar", "forecast solar day ahead"]
    assert 0 < summary["mae"] < 2 * summary["mae_ridge"]
    assert summary["model"] == "ensemble" and summary["mae_lightgbm"] > 0
    weights = summary["weights"]  # ridge and LightGBM weighed on the validation hours
    assert set(weights) == {"ridge", "lightgbm"} and sum(weights.values()) == pytest.approx(1)
    assert 0.5 < summary["coverage_p10_p90"] <= 1.0
    assert np.isfinite(summary["mae"]) and summary["beats_anchor"] in (True, False)
