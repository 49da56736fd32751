"""``gridbrain benchmark household`` on EMHASS's household data (skipped where absent)."""

import json

import pytest
from click.testing import CliRunner

from gridbrain.cli.bench_household import import_prices
from gridbrain.cli.benchmark import benchmark
from gridbrain.settings import Settings

DATA = Settings().shared_data_dir / "emhass_household"


def test_peak_slots_match_emhass_stored_prices() -> None:
    if not DATA.exists():
        pytest.skip(f"shared data not found: {DATA}")
    import pandas as pd

    frame = pd.read_csv(DATA / "opt_res_latest.csv")
    starts = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ms, UTC]")
    ms = starts.astype("int64").to_numpy()
    assert import_prices(ms).tolist() == frame["unit_load_cost"].tolist()


def test_household_benchmark_matches_emhass_and_orders_the_plans() -> None:
    if not DATA.exists():
        pytest.skip(f"shared data not found: {DATA}")
    result = CliRunner().invoke(benchmark, ["household", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    for run in last["emhass"]:
        # Same inputs, no battery: EMHASS's plan and Gridbrain's cost the same.
        assert run["gridbrain_no_battery"] == pytest.approx(run["emhass_cost"], abs=2e-3)
        assert run["gridbrain_battery"] < run["emhass_cost"]
    costs = last["costs"]
    assert last["days"] > 60 and last["replans"]["fallback"] == 0
    assert costs["perfect foresight"] <= min(costs.values()) + 1e-6
    assert costs["hourly re-planned forecast"] < costs["none"]
