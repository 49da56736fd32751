"""``gridbrain benchmark operator``: Spain's day-ahead load, solar or wind against the operator.

The protocol of ``benchmark weather-text``: every hour of the last 20 % of
``spain_energy_weather`` (2018-03-14 18:00Z on) is forecast from the local midnight that
starts its day, from the series up to then, the calendar with Spain's national holidays
and the five cities' *observed* weather at the hour: a perfect weather forecast, which the
operator does not have. Models: the ridge per local hour of ``weather-text`` and LightGBM
quantile boosters (p10, p50, p90) on the same columns plus the hour, early-stopped on the
validation hours, their band calibrated there
(:func:`~processors.forecast.band_scale.band_factor`).
Ours is the two weighed on the validation hours (:func:`combined`). The anchor is the
operator's own day-ahead forecast of the same hours. The last line is JSON.
"""

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

__all__ = ["operator"]

_LEVELS = (0.1, 0.5, 0.9)


def _boosters(x: np.ndarray, study: Any, seed: int) -> list[Any]:
    """One quantile booster per level, trained before the validation hours, stopped on them."""
    import lightgbm

    fit_rows = study.train & ~study.val & np.isfinite(study.y)
    val = study.val & np.isfinite(study.y)
    out = []
    for level in _LEVELS:
        params = {
            "objective": "quantile",
            "alpha": level,
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_data_in_leaf": 40,
            "seed": seed,
            "verbose": -1,
        }
        out.append(
            lightgbm.train(
                params,
                lightgbm.Dataset(x[fit_rows], study.y[fit_rows]),
                num_boost_round=2000,
                valid_sets=[lightgbm.Dataset(x[val], study.y[val])],
                callbacks=[lightgbm.early_stopping(50, verbose=False)],
            )
        )
    return out


def _calibrated(raw: np.ndarray, study: Any) -> np.ndarray:
    """Quantiles (N, 3) with each side of the band scaled on the validation hours."""
    from gridbrain.processors.forecast.band_scale import band_factor

    val = study.val & np.isfinite(study.y)
    error = study.y[val] - raw[val, 1]
    out = raw.copy()
    for q in (0, 2):
        factor = band_factor(raw[val, q] - raw[val, 1], error, _LEVELS[q])
        out[:, q] = raw[:, 1] + factor * (raw[:, q] - raw[:, 1])
    return out


def gbm_quantiles(x: np.ndarray, study: Any, seed: int) -> np.ndarray:
    """p10, p50, p90 of every hour (N, 3), the band calibrated on the validation hours."""
    raw = np.sort(np.column_stack([b.predict(x) for b in _boosters(x, study, seed)]), axis=1)
    return _calibrated(raw, study)


def combined(
    ridge: Any, x_ridge: np.ndarray, gbm: np.ndarray, study: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The ridge and LightGBM medians weighed on validation; LightGBM's band around them.

    The ridge is refitted (same penalties) on the hours before validation for its
    validation forecasts, so that both members are weighed out of sample
    (:func:`~processors.forecast.combination.combination_weights`).

    Returns:
        Quantiles (N, 3) with the band calibrated again, and the weights (ridge, LightGBM).
    """
    from gridbrain.cli.weather_text_design import HourlyRidge
    from gridbrain.processors.forecast.combination import combination_weights

    fit_rows = study.train & ~study.val & np.isfinite(study.y)
    val = study.val & np.isfinite(study.y)
    held_out = HourlyRidge(ridge.alpha, ridge.extra, ridge.extra_factor).fit(
        x_ridge[fit_rows], study.y[fit_rows], study.group[fit_rows]
    )
    ridge_median = ridge.predict(x_ridge, study.group)
    ridge_median[val] = held_out.predict(x_ridge[val], study.group[val])
    weights = combination_weights(np.stack([ridge_median[val], gbm[val, 1]]), study.y[val])
    median = weights[0] * ridge_median + weights[1] * gbm[:, 1]
    raw = gbm + (median - gbm[:, 1])[:, None]
    return _calibrated(raw, study), weights


def _coverage(q: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    use = mask & np.isfinite(y)
    return float(np.mean((y[use] >= q[use, 0]) & (y[use] <= q[use, 2])))


@click.command("operator")
@click.option(
    "--series",
    type=click.Choice(["load", "solar", "wind"]),
    default="load",
    show_default=True,
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Default: shared data.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--hours", type=int, help="Only the first N hours (quick looks, tests).")
def operator(series: str, data_dir: Path | None, seed: int, hours: int | None) -> None:
    """Spain's day-ahead forecasts against the grid operator's, on the last 20 % of hours."""
    from gridbrain.cli.spain_weather import SERIES, load_spain, spain_folder
    from gridbrain.cli.weather_text_design import Study, fit_select, mae

    data = load_spain(spain_folder(data_dir), hours, series)
    split = int(0.8 * len(data))
    study = Study.build(data, split)
    test = study.test
    with click.progressbar(length=2, label=f"fitting day-ahead {series} models") as bar:
        ridge = fit_select(study.base, study)
        bar.update(1)
        x = np.column_stack([study.base, study.group])
        gbm = gbm_quantiles(x, study, seed)
        bar.update(1)
    quantiles, weights = combined(ridge, study.base, gbm, study)
    maes = {
        "operator": mae(data.operator[study.rows], study.y, test),
        "ridge": mae(ridge.predict(study.base, study.group), study.y, test),
        "lightgbm": mae(gbm[:, 1], study.y, test),
        "ensemble": mae(quantiles[:, 1], study.y, test),
    }
    actual = study.y[test & np.isfinite(study.y)]
    for name, value in maes.items():
        click.echo(f"{name:10s} MAE {value:10.1f} MW  ({100 * value / np.mean(actual):.2f} %)")
    summary: dict[str, Any] = {
        "series": series,
        "columns": list(SERIES[series]),
        "model": "ensemble",
        "mae": round(maes["ensemble"], 2),
        "anchor": "operator day-ahead forecast",
        "anchor_mae": round(maes["operator"], 2),
        "mae_ridge": round(maes["ridge"], 2),
        "mae_lightgbm": round(maes["lightgbm"], 2),
        "weights": {"ridge": float(weights[0]), "lightgbm": float(weights[1])},
        "coverage_p10_p90": round(_coverage(quantiles, study.y, test), 4),
        "coverage_p10_p90_lightgbm": round(_coverage(gbm, study.y, test), 4),
        "beats_anchor": bool(maes["ensemble"] < maes["operator"]),
        "first_test_hour": str(data.stamps[split]),
        "test_hours": int((test & np.isfinite(study.y)).sum()),
        "weather": "the cities' observed weather at the hour used as a perfect forecast",
    }
    click.echo(json.dumps(summary))
