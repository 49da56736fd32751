"""``gridbrain benchmark dispatch`` end to end on a small price file with a known pattern."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridbrain.cli.benchmark import benchmark


def test_dispatch_benchmark_prints_the_capture_ratios(prices: tuple[Path, Path]) -> None:
    csv, mapping = prices
    args = ["dispatch", "--csv", str(csv), "--mapping", str(mapping), "--epochs", "2"]
    result = CliRunner().invoke(benchmark, [*args, "--anchor-column", "day ahead"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    keys = {"perfect_foresight_profit", "forecast_profit", "capture_ratio", "days"}
    keys |= {"persistence_capture_ratio", "rule_capture_ratio", "solve_s_p95"}
    assert keys <= set(last)
    assert last["site"] == "mkt" and last["days"] == 29  # whole local days of the last 20 %
    assert last["lp_vs_independent"] == pytest.approx(0, abs=1e-3)
    # The shape is learnt; the hour-to-hour noise (which perfect foresight also trades)
    # is not, so the forecast beats a noisy copy of the last day.
    assert 0.5 < last["capture_ratio"] <= 1.0
    assert last["capture_ratio"] > last["persistence_capture_ratio"]
    assert last["perfect_foresight_profit"] > last["forecast_profit"] > 0
    assert 0 < last["anchor_capture_ratio"] <= 1.0
    assert last["year_hourly_solve_s"] > 0 and last["mip_48h_5min_p95_s"] > 0
    assert "LP on column 'day ahead'" in result.output


def test_unknown_site_is_a_clear_error(prices: tuple[Path, Path]) -> None:
    csv, mapping = prices
    args = ["dispatch", "--csv", str(csv), "--mapping", str(mapping), "--site", "elsewhere"]
    result = CliRunner().invoke(benchmark, args)
    assert result.exit_code != 0 and "no price series of site 'elsewhere'" in result.output
