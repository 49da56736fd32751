"""``benchmark alerts`` on the Brisbane River sonde: water incidents checked with pandas alone,
and predictive dissolved-oxygen alerts scored."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gridbrain.cli.main import cli
from gridbrain.settings import Settings

MAPPING = Path(__file__).resolve().parents[2] / "deploy/mappings/brisbane_river_water_quality.yaml"
STEP_MS = 15 * 60_000


def _low_oxygen_incidents(csv: Path) -> int:
    """DO < 5 mg/L for 30 min fires; DO >= 5.5 resolves (the rule), on 15-min step means."""
    frame = pd.read_csv(csv, usecols=["Timestamp", "Dissolved Oxygen"])
    local = pd.to_datetime(frame["Timestamp"], format="%Y-%m-%d %H:%M")
    utc = local.dt.tz_localize("Australia/Brisbane").dt.tz_convert("UTC")
    ms = utc.dt.as_unit("ms").astype("int64")
    do = frame["Dissolved Oxygen"].where(frame["Dissolved Oxygen"].between(0, 25))
    steps = do.groupby(ms // STEP_MS * STEP_MS).mean().dropna()
    fired, state, since = 0, "inactive", 0
    for at, value in steps.items():
        if state == "inactive" and value < 5:
            state, since = "pending", at
        if state == "pending":
            if value >= 5:
                state = "inactive"
            elif at - since >= 30 * 60_000:
                state, fired = "firing", fired + 1
        elif state == "firing" and value >= 5.5:
            state = "inactive"
    return fired


def test_water_rules_and_predictive_oxygen_alerts_on_the_brisbane_sonde(tmp_path: Path) -> None:
    csv = Settings().shared_data_dir / "brisbane_river_water_quality/brisbane_water_quality.csv"
    if not csv.exists():
        pytest.skip(f"{csv} not found (set GRIDBRAIN_SHARED_DATA_DIR)")
    args = ["benchmark", "alerts", "--csv", str(csv), "--mapping", str(MAPPING)]
    args += ["--predictive-rule", "dissolved_oxygen_forecast_low", "--thresholds", "5,6"]
    args += ["--models", "persistence,seasonal_naive", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    rules = {row["rule"]: row for row in summary["rules"]}
    expected = _low_oxygen_incidents(csv)
    assert expected > 0
    assert rules["dissolved_oxygen_low"]["incidents_hysteresis"] == expected
    rows = summary["predictive"]
    assert {(r["model"], r["quantile"], r["threshold"]) for r in rows} == {
        (m, q, t) for m in ("persistence", "seasonal_naive") for q in ("p50", "p10") for t in (5, 6)
    }
    assert all(np.isfinite(r["base_rate"]) for r in rows)  # every model issued forecasts
    at_six = [r for r in rows if r["threshold"] == 6]
    assert all(r["episodes"] > 0 for r in at_six)  # DO dips below 6 in the test months
    for r in at_six:
        assert 0 <= r["caught"] <= r["episodes"]
        assert np.isnan(r["issue_recall"]) or 0 <= r["issue_recall"] <= 1
    # p10 warns of lows at least as often as the median does.
    by = {(r["model"], r["quantile"], r["threshold"]): r for r in rows}
    for m in ("persistence", "seasonal_naive"):
        assert by[(m, "p10", 6)]["firing_issues"] >= by[(m, "p50", 6)]["firing_issues"]
    assert (tmp_path / "predictive.png").stat().st_size > 0


def test_hourly_data_on_15_minute_steps_is_forecast_where_the_stream_would() -> None:
    """Hourly values fill a quarter of the steps; a month-long gap still stops the issues."""
    from gridbrain.cli.alert_eval import _forecast_issues
    from gridbrain.processors.forecast.baselines import Persistence
    from gridbrain.processors.forecast.dataset import Series

    steps = 40 * 96
    values = np.full(steps, np.nan)
    values[::4] = 10 + np.sin(np.arange(0, steps, 4) / 96 * 2 * np.pi)  # on the hour
    values[20 * 96 : 30 * 96] = np.nan  # ten days without a value
    series = Series("s", "pm25", 0, STEP_MS, values, np.full((steps, 3), np.nan))
    origins = np.arange(8 * 96, steps - 96, 4)  # every hour, a week of history behind
    issued = {
        i.issued_at_ms // STEP_MS - 1 for i in _forecast_issues(Persistence(), series, origins, 96)
    }
    assert issued and issued <= set(origins.tolist())
    assert all(o in issued for o in origins if o < 20 * 96)  # the weeks before the gap
    assert not any(20 * 96 + 5 <= o < 30 * 96 for o in issued)  # no newest value in the gap
    assert not any(30 * 96 <= o < 33 * 96 for o in issued)  # under half a week after it
