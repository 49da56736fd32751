"""The §6 day-ahead benchmark: its DST repair, its midnight origins, and a real run."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gridbrain.cli.bench_dayahead import (
    CANDIDATES,
    SETS,
    dayahead,
    midnight_plan,
    undo_dst_clock,
)
from gridbrain.processors.forecast.dataset import Series
from gridbrain.settings import Settings

HOUR = 3_600_000


def _hourly(start: str, hours: int) -> Series:
    t0 = int(pd.Timestamp(start).value // 1_000_000)
    values = np.arange(hours, dtype=float)
    return Series("s", "pv_power", t0, HOUR, values, np.zeros((hours, 3)))


def test_a_dst_following_clock_is_moved_back_an_hour_in_summer_only() -> None:
    s = _hourly("2012-03-10T00:00Z", 24 * 4)  # US DST starts 2012-03-11 (09:00Z in Denver)
    fixed = undo_dst_clock(s, "America/Denver").values
    assert (fixed[:30] == s.values[:30]).all()  # winter: as labelled
    assert (fixed[40:-1] == s.values[41:]).all()  # summer: the value labelled an hour later


def test_test_origins_are_the_hours_before_local_midnight() -> None:
    s = _hourly("2013-01-01T00:00Z", 24 * 200)
    plan = midnight_plan(s, "Australia/Melbourne")
    (split,) = plan.splits
    first_targets = pd.to_datetime(s.start_ms + (split.test + 1) * HOUR, unit="ms", utc=True)
    local = first_targets.tz_convert("Australia/Melbourne")
    assert (local.hour == 0).all() and len(split.test) >= 35  # the last 20 % of 200 days
    assert split.test[0] >= 0.8 * len(s) - 1 and split.train[-1] + 24 < 0.7 * len(s) + 1
    assert plan.future_weather and plan.lookback == 168 and plan.horizon == 24


def test_dayahead_on_the_wind_turbine_prints_the_comparison(tmp_path: Path) -> None:
    data = Settings().shared_data_dir
    if not (data / SETS["wind"].files[0][0]).exists():
        pytest.skip(f"the T1 wind turbine data is not in {data} (set GRIDBRAIN_SHARED_DATA_DIR)")
    result = CliRunner().invoke(
        dayahead, ["--set", "wind", "--epochs", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert {"mae", "anchor_mae", "coverage_p10_p90", "model"} <= set(summary)
    assert summary["anchor"] == "lightgbm" and summary["test_days"] >= 70  # 20 % of 2018
    assert set(summary["models"]) >= {"persistence", "seasonal_naive", "arx", "lightgbm"}
    assert summary["model"] == min(summary["validation_mae"], key=summary["validation_mae"].get)
    weights = summary["ensemble_weights"]  # the candidates weighed on validation
    assert set(weights) <= set(CANDIDATES) and sum(weights.values()) == pytest.approx(1.0)
    ensemble = "ensemble_" + "+".join(weights)
    assert summary["validation_mae"][ensemble] <= min(
        summary["validation_mae"][name] for name in CANDIDATES
    )
    assert 0 < summary["mae"] < summary["models"]["persistence"]["mae"]
    assert (tmp_path / "reliability.png").stat().st_size > 0
