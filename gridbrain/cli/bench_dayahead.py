"""``gridbrain benchmark dayahead``: BENCHMARKS.md §6 with LightGBM run beside our models.

Hourly series, a week of history, 24 hours ahead from every local midnight of the last
20 % (training on the first 70 %, calibration and early stopping on the next 10 %); the
observed weather of the target hours is given to every model as a perfect forecast (as
§6 prescribes: an oracle no operator has). The anchor is the OpenSTEF-style LightGBM with
its raw quantiles (``lightgbm``); ours is the candidate with the lowest validation MAE
among AR-X, RLinear, LightGBM with calibrated bands (``lightgbm_calibrated``), LightGBM
with the day's weather statistics as well (``lightgbm_weather``) and the ensemble of them
all, weighted on validation (``gridbrain train --model ensemble`` fits the same), chosen
before the test is looked at. Our models' bands are tracked online
over the test as the stream tracks them (``score(band_rate=...)``); the anchor's are not.
The last line is JSON.
"""

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from gridbrain.cli.datasets import SeriesSource, series_from_files
from gridbrain.cli.model_names import ENSEMBLE_MEMBERS
from gridbrain.cli.progress import epoch_bar
from gridbrain.cli.training import TrainOptions, make_model, report
from gridbrain.processors.evaluation.backtest import (
    BacktestPlan,
    Scored,
    fit,
    score,
    training_data,
)
from gridbrain.processors.forecast.base import QuantileModel
from gridbrain.processors.forecast.batch import P50
from gridbrain.processors.forecast.dataset import Series, SplitOrigins, split_origins
from gridbrain.processors.forecast.ensemble import Ensemble

__all__ = ["SETS", "DayAheadSet", "dayahead", "load_set", "midnight_plan"]

HOUR_MS = 3_600_000
_MAPPINGS = Path(__file__).resolve().parents[2] / "deploy" / "mappings"
LOOKBACK, HORIZON = 7 * 24, 24
#: Candidates for "ours", chosen by validation MAE (with their weighted ensemble).
CANDIDATES = ENSEMBLE_MEMBERS
ANCHOR = "lightgbm"
#: Our models' bands are tracked online (step per day, in window scales), as served.
BAND_RATE = 0.1


@dataclass(frozen=True)
class DayAheadSet:
    """A §6 series: files (relative to the shared data) with their mappings.

    Attributes:
        files: (data file, mapping file in deploy/mappings) pairs.
        quantity: the forecast quantity.
        timezone: where the origins' midnights are.
        clock_follows_dst: the file labels a DST-following clock with a fixed offset.
    """

    files: tuple[tuple[str, str], ...]
    quantity: str
    timezone: str
    clock_follows_dst: bool = False


SETS = {
    "vic_elec": DayAheadSet(
        (("vic_elec_demand_temperature/vic_elec.csv", "vic_elec_demand_temperature.yaml"),),
        "load",
        "Australia/Melbourne",
    ),
    "pvdaq": DayAheadSet(
        (
            (
                "solar_pvdaq_pvanalytics/system_50_ac_power_2_full_DST.parquet",
                "solar_pvdaq_pvanalytics.yaml",
            ),
            (
                "solar_pvdaq_pvanalytics/system_50_ac_power_2_full_DST_psm3.parquet",
                "solar_pvdaq_pvanalytics_psm3.yaml",
            ),
        ),
        "pv_power",
        "America/Denver",
        clock_follows_dst=True,
    ),
    "wind": DayAheadSet(
        (("wind_turbine_scada_turkey/T1.csv", "wind_turbine_scada_turkey.yaml"),),
        "wind_power",
        "Europe/Istanbul",
    ),
    "pm25": DayAheadSet(
        (("beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv", "beijing_pm25.yaml"),),
        "pm25",
        "Asia/Shanghai",
    ),
}


def _times(series: Series) -> pd.DatetimeIndex:
    ms = series.start_ms + np.arange(len(series), dtype=np.int64) * series.step_ms
    return pd.DatetimeIndex(pd.to_datetime(ms, unit="ms", utc=True))


def undo_dst_clock(series: Series, timezone: str) -> Series:
    """Values logged by a clock that followed DST but was labelled with the winter offset.

    In summer such a label is an hour late: the value labelled ``t`` belongs to ``t - 1h``.
    """
    utc = _times(series)
    offset = (utc.tz_convert(timezone).tz_localize(None) - utc.tz_localize(None)).to_numpy()
    summer = offset > offset.min()
    shift = HOUR_MS // series.step_ms
    values = series.values.copy()
    at = np.flatnonzero(summer[:-shift])
    values[at] = series.values[at + shift]
    return replace(series, values=values)


def load_set(name: str, data_dir: Path) -> Series:
    """The hourly series of a §6 set.

    Raises:
        click.ClickException: its files are not in ``data_dir``.
    """
    spec = SETS[name]
    sources = [SeriesSource(data_dir / f, _MAPPINGS / m) for f, m in spec.files]
    missing = [str(s.path) for s in sources if not s.path.exists()]
    if missing:
        raise click.ClickException(f"{name}: {missing} not found (set GRIDBRAIN_SHARED_DATA_DIR)")
    (series,) = series_from_files(sources, spec.quantity, HOUR_MS)
    return undo_dst_clock(series, spec.timezone) if spec.clock_follows_dst else series


def midnight_plan(series: Series, timezone: str) -> BacktestPlan:
    """§6's split: hourly training origins, test origins at every local midnight."""
    base = split_origins(len(series), LOOKBACK, HORIZON, (0.7, 0.1), 1, 24)
    local = _times(series).tz_convert(timezone)
    first_targets = np.flatnonzero((local.hour == 0) & (local.minute == 0))
    origins = first_targets - 1
    start = int(base.test[0]) if len(base.test) else len(series)
    test = origins[(origins >= start) & (origins + HORIZON < len(series))]
    split = SplitOrigins(base.train, base.val, test.astype(np.int64))
    return BacktestPlan([series], [split], LOOKBACK, HORIZON, future_weather=True)


def _validation_mae(model: QuantileModel, plan: BacktestPlan) -> float:
    batch, target = training_data(plan, "val")
    return float(np.nanmean(np.abs(model.forecast(batch)[..., P50] - target)))


def run_models(
    plan: BacktestPlan, options: TrainOptions
) -> tuple[dict[str, Scored], dict[str, float], str, dict[str, float]]:
    """Fit and score the baselines, the anchor and our candidates.

    Returns:
        Every model's scores, our candidates' validation MAE, the chosen one's name and
        the ensemble's weights.
    """
    fitted: dict[str, QuantileModel] = {}
    for name in ("persistence", "seasonal_naive", *CANDIDATES, ANCHOR):
        model = make_model(name, options)
        with epoch_bar(f"fitting {name}", model) as progress:
            fit(model, plan, progress)
        fitted[name] = model
    validation = {name: _validation_mae(fitted[name], plan) for name in CANDIDATES}
    ensemble = Ensemble.of([fitted[name] for name in CANDIDATES])
    fit(ensemble, plan)  # weighs the fitted members on validation, drops those at 0
    fitted[ensemble.name] = ensemble
    validation[ensemble.name] = _validation_mae(ensemble, plan)
    chosen = min(validation, key=validation.__getitem__)
    scored = {
        name: score(m, plan, BAND_RATE if name in validation else 0.0) for name, m in fitted.items()
    }
    weights = {m.name: round(w, 2) for m, w in zip(ensemble.members, ensemble.weights, strict=True)}
    return scored, validation, chosen, weights


def _round(value: float) -> float:
    return round(float(value), 4)


@click.command("dayahead")
@click.option("--set", "name", type=click.Choice(sorted(SETS)), required=True)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Default: shared data.")
@click.option("--epochs", type=int, default=30, show_default=True, help="RLinear epochs.")
@click.option("--out", type=click.Path(path_type=Path), help="metrics.json and plots here.")
@click.option("--device", default="cpu", show_default=True)
def dayahead(name: str, data_dir: Path | None, epochs: int, out: Path | None, device: str) -> None:
    """BENCHMARKS.md §6 on one set: ours against LightGBM, persistence, seasonal naive, AR-X."""
    from gridbrain.cli.output import render
    from gridbrain.settings import Settings

    series = load_set(name, data_dir or Settings().shared_data_dir)
    plan = midnight_plan(series, SETS[name].timezone)
    options = TrainOptions(LOOKBACK, HORIZON, HOUR_MS, epochs=epochs, device=device)
    results, validation, chosen, weights = run_models(plan, options)
    rows = report(results, out, HOUR_MS)
    click.echo(render(rows, "table"))
    ours, anchor = results[chosen].metrics, results[ANCHOR].metrics
    summary: dict[str, Any] = {
        "set": name,
        "model": chosen,
        "mae": _round(ours["mae"]),
        "crps": _round(ours["crps"]),
        "coverage_p10_p90": _round(ours["coverage_80"]),
        "anchor": ANCHOR,
        "anchor_mae": _round(anchor["mae"]),
        "anchor_crps": _round(anchor["crps"]),
        "anchor_coverage_p10_p90": _round(anchor["coverage_80"]),
        "beats_anchor_mae": bool(ours["mae"] < anchor["mae"]),
        "coverage_within_5_points": bool(abs(ours["coverage_80"] - 0.8) <= 0.05),
        "validation_mae": {k: _round(v) for k, v in validation.items()},
        "ensemble_weights": weights,
        "test_days": int(results[chosen].metrics["windows"]),
        "weather": "observed weather of the target hours used as a perfect forecast",
        "models": {
            row["model"]: {
                k: row[k]
                for k in ("mae", "crps", "coverage_80", "skill_mae_vs_persistence")
                if k in row
            }
            for row in rows
        },
    }
    click.echo(json.dumps(summary))
