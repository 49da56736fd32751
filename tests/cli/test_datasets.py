"""Series from mapped files: units, ranges, the step grid, weather, and the backtest CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gridbrain.cli.datasets import SeriesSource, series_from_files
from gridbrain.cli.main import cli

HOUR = 3_600_000


@pytest.fixture
def feeder(tmp_path: Path) -> SeriesSource:
    hours = np.arange(24 * 40)
    t = np.datetime64("2024-01-01T00:00") + hours.astype("timedelta64[h]")
    noise = np.random.default_rng(0).normal(0, 0.05, len(hours))
    zone1 = 2.0 + np.sin(2 * np.pi * hours / 24) + noise  # MW
    zone1[5] = -50_000  # below the physical range: dropped
    temp = 10 + 5 * np.cos(2 * np.pi * hours / 24)
    lines = [f"{a},{b:.4f},{c:.2f}" for a, b, c in zip(t.astype(str), zone1, temp, strict=True)]
    csv = tmp_path / "feeder.csv"
    csv.write_text("time,zone1,temp\n" + "\n".join(lines) + "\n")
    mapping = tmp_path / "feeder.yaml"
    mapping.write_text(
        "time_column: time\nsite_id: town\ncolumns:\n"
        "  zone1: {quantity: load, unit: MW, site_id: town-z1}\n"
        "  temp: {quantity: temperature, unit: degC}\n"
        "sites:\n  - {site_id: town-z1, latitude: 35.6, longitude: -5.4}\n"
    )
    return SeriesSource(csv, mapping)


def test_series_are_canonical_on_the_step_grid_with_their_sites_weather(
    feeder: SeriesSource,
) -> None:
    (s,) = series_from_files([feeder], "load", 15 * 60_000)
    assert (s.site_id, s.quantity, s.step_ms) == ("town-z1", "load", 900_000)
    assert len(s) == 4 * (24 * 40 - 1) + 1  # hourly values on a 15-minute grid
    assert s.values[0] == pytest.approx(2006.3, abs=0.1)  # 2.0063 MW -> kW
    assert np.isnan(s.values[1])  # between the hours: not measured ...
    assert s.filled[1] == pytest.approx(s.values[0] + (s.values[4] - s.values[0]) / 4)
    assert np.isnan(s.values[5 * 4])  # out of range
    # The zone takes the file's site weather, interpolated to the grid.
    assert s.exog[0, 0] == pytest.approx(15.0) and np.isfinite(s.exog[1, 0])
    assert (s.latitude, s.longitude) == (35.6, -5.4)


def test_unknown_quantity_is_a_clear_error(feeder: SeriesSource) -> None:
    from gridbrain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="no pv_power series"):
        series_from_files([feeder], "pv_power", 900_000)


def test_backtest_command_reports_skill_and_writes_plots(
    feeder: SeriesSource, tmp_path: Path
) -> None:
    out = tmp_path / "bt"
    args = ["backtest", "--quantity", "load", "--csv", str(feeder.path)]
    args += ["--mapping", str(feeder.mapping), "--models", "seasonal_naive,linear"]
    args += ["--lookback-days", "3", "--epochs", "2", "--out", str(out), "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"persistence", "seasonal_naive", "linear"}
    for key in ("mae", "rmse", "nmae", "mase", "pinball", "crps", "coverage_80"):
        assert np.isfinite(rows["linear"][key]), (key, rows["linear"])
    assert rows["seasonal_naive"]["skill_mae_vs_persistence"] > 0
    assert {p.name for p in out.iterdir()} >= {
        "metrics.json",
        "reliability.png",
        "forecast_linear.png",
    }
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_inference_benchmark_prints_a_json_summary() -> None:
    args = ["benchmark", "inference", "--batch-sizes", "1,8", "--seconds", "0.2"]
    result = CliRunner().invoke(cli, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["best_windows_per_s"] >= summary["batch_1_windows_per_s"] > 0
