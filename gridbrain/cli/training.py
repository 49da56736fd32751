"""``gridbrain train`` and ``gridbrain backtest``: fit, score, plot, register, promote."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridbrain.cli.model_names import ENSEMBLE_MEMBERS, TEXT_MODELS
from gridbrain.cli.plots import plot_forecasts, plot_reliability
from gridbrain.cli.progress import epoch_bar
from gridbrain.errors import ConfigurationError
from gridbrain.processors.evaluation.backtest import BacktestPlan, Scored, fit, score
from gridbrain.processors.evaluation.metrics import skill
from gridbrain.processors.forecast.arx import Arx
from gridbrain.processors.forecast.base import QuantileModel
from gridbrain.processors.forecast.baselines import Persistence, SeasonalNaive
from gridbrain.processors.forecast.history import EXOG_VARIABLES
from gridbrain.processors.forecast.linear import LinearModel
from gridbrain.processors.forecast.patchtst import PatchTst

__all__ = [
    "TrainOptions",
    "backtest_models",
    "check_text",
    "make_model",
    "report",
]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class TrainOptions:
    """Options of the trainable models.

    Attributes:
        lookback: history steps of the neural models.
        horizon: steps ahead.
        step_ms: the series' step.
        epochs: at most this many epochs.
        device: torch device.
        seed: training seed.
    """

    lookback: int
    horizon: int
    step_ms: int
    epochs: int = 30
    device: str = "cpu"
    seed: int = 2021


def make_model(name: str, options: TrainOptions) -> QuantileModel:
    """A fresh model by name (see :data:`~gridbrain.cli.model_names.MODEL_NAMES`)."""
    if name == "persistence":
        return Persistence()
    if name.startswith("seasonal_naive"):
        return SeasonalNaive(7 if name.endswith("_7d") else 1)
    if name == "arx":
        return Arx(device=options.device)
    common: dict[str, Any] = {
        "n_exog": len(EXOG_VARIABLES),
        "train": {"epochs": options.epochs, "seed": options.seed},
    }
    model: QuantileModel
    local = {**common, "local_calendar": True}  # the text regressor reads the UTC clock
    if name == "linear":
        model = LinearModel(options.lookback, options.horizon, **local)
    elif name == "linear_daily":
        period = _DAY_MS // options.step_ms
        model = LinearModel(options.lookback, options.horizon, period=period, **local)
    elif name == "patchtst":
        local["train"] = common["train"] | {"learning_rate": 0.001, "patience": 3}
        model = PatchTst(options.lookback, options.horizon, **local)
    elif name.startswith("lightgbm"):
        from gridbrain.processors.forecast.gbm import LightGbm

        model = LightGbm(
            options.lookback,
            options.horizon,
            n_exog=len(EXOG_VARIABLES),
            calibrated=name != "lightgbm",
            weather_days=name == "lightgbm_weather",
            local_calendar=True,
            train={"seed": options.seed},
        )
    elif name == "ensemble":
        from gridbrain.processors.forecast.ensemble import Ensemble

        model = Ensemble.untrained([make_model(m, options) for m in ENSEMBLE_MEMBERS])
    elif name == "text_regressor":
        from gridbrain.processors.text.regressor import TextRegressor  # loads transformers

        model = TextRegressor(options.lookback, options.horizon, places=1, **common)
    else:
        raise KeyError(name)
    return model.to(options.device)


def check_text(names: list[str], plan: BacktestPlan) -> None:
    """Refuse a text model the plan cannot feed.

    It needs the target steps' weather text, which in the stream comes from weather
    forecasts: in training that is the observed text (``--observed-weather-as-forecast``).

    Raises:
        ConfigurationError: a text model is named but the windows carry no text.
    """
    wanted = sorted(set(names) & set(TEXT_MODELS))
    if not wanted:
        return
    if not plan.future_weather:
        raise ConfigurationError(
            f"{wanted} read the weather text of the target steps: give "
            "--observed-weather-as-forecast (alias --future-weather) "
            "(the stored observations' text stands in for the forecast text it is served)"
        )
    if not any(s.text is not None and (s.text != "").any() for s in plan.series):
        raise ConfigurationError(
            f"{wanted} need weather text: no stored weather observation of these sites "
            "has a description"
        )


def backtest_models(
    names: list[str], plan: BacktestPlan, options: TrainOptions
) -> dict[str, tuple[QuantileModel, Scored]]:
    """Fit (with a progress bar per model) and score every named model on ``plan``."""
    out = {}
    for name in names:
        model = make_model(name, options)
        with epoch_bar(f"fitting {name}", model) as progress:
            fit(model, plan, progress)
        out[name] = (model, score(model, plan))
    return out


def report(results: dict[str, Scored], out_dir: Path | None, step_ms: int) -> list[dict[str, Any]]:
    """Rows of metrics with skill against persistence and seasonal naive; plots and JSON.

    Skill is 1 - MAE / reference MAE (``skill_mae``) and the same for CRPS.
    """
    rows = []
    for name, scored in results.items():
        row: dict[str, Any] = {"model": name, **{k: round(v, 4) for k, v in scored.metrics.items()}}
        for reference in ("persistence", "seasonal_naive"):
            ref = results[reference].metrics if reference in results else None
            for metric in ("mae", "crps"):
                row[f"skill_{metric}_vs_{reference}"] = (
                    round(skill(scored.metrics[metric], ref[metric]), 4) if ref else None
                )
        rows.append(row)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, scored in results.items():
            plot_forecasts(scored, step_ms, out_dir / f"forecast_{name}.png")
        plot_reliability(list(results.values()), out_dir / "reliability.png")
        (out_dir / "metrics.json").write_text(
            json.dumps(
                {
                    "models": rows,
                    "per_series": {n: s.per_series for n, s in results.items()},
                },
                indent=2,
            )
        )
    return rows
