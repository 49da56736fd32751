"""``gridbrain benchmark weather-text`` on the first 100 days of the Spanish data set."""

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridbrain.cli.benchmark import benchmark
from gridbrain.settings import Settings

FOLDER = Settings().shared_data_dir / "spain_energy_weather"
REQUIRED = (
    "mae_numeric",
    "mae_onehot",
    "mae_text",
    "mae_operator",
    "mae_text_unseen",
    "mae_onehot_unseen",
)


@pytest.mark.timeout(120)
@pytest.mark.skipif(
    not (FOLDER / "weather_features.csv").exists(),
    reason=f"spain_energy_weather is not in {FOLDER} (set GRIDBRAIN_SHARED_DATA_DIR)",
)
def test_weather_text_prints_the_mae_table() -> None:
    args = "weather-text --hours 2400 --epochs 1 --direct-epochs 1 --features 2 --device cpu"
    result = CliRunner().invoke(benchmark, [*args.split(), "--data-dir", str(FOLDER)])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    for key in (*REQUIRED, "mae_direct", "mae_text_paraphrase", "mae_onehot_paraphrase"):
        assert math.isfinite(last[key]) and 0 < last[key] < 10_000, key
    assert last["test_hours"] == 479 and isinstance(last["text_on_by_default"], bool)
    assert last["held_out"] and all(math.isfinite(v) for v in last["fine_tune_loss"])
    assert "text features on by default" in result.output


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(benchmark, ["weather-text", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0 and "spain_energy_weather not found" in result.output
