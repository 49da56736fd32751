"""``gridbrain benchmark``: the ETT long-horizon protocol and inference throughput."""

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from gridbrain.progress import epoch_bar
from processors.evaluation.ett import (
    channel_batch,
    channel_targets,
    from_channels,
    metrics,
    repeat_last,
    split,
    windows,
)
from processors.forecast.base import QuantileModel
from processors.forecast.batch import P50
from processors.forecast.linear import LinearModel
from processors.forecast.patchtst import PatchTst

__all__ = ["ETT_MODELS", "ett_model", "run_ett"]

#: Model -> (default look-back, learning rate) on ETT (the papers' settings).
ETT_MODELS: dict[str, tuple[int, float]] = {
    "repeat": (336, 0.0),
    "linear": (336, 0.005),  # RLinear
    "linear_sparse": (720, 0.02),  # SparseTSF, period 24
    "patchtst": (336, 0.0001),  # PatchTST/42 (PatchTST/64: --lookback 512)
}


def ett_model(
    name: str, lookback: int, horizon: int, channels: int, seed: int, lr: float
) -> QuantileModel:
    """A point-forecast (MSE) model for the ETT protocol, without covariates.

    Batches hold the papers' number of windows, each of ``channels`` series; the loss is
    the MSE in the (already z-scored) data's units, as the papers train.
    """
    train = {"objective": "mse", "seed": seed, "learning_rate": lr, "normalised_loss": False}
    common: dict[str, Any] = {"use_covariates": False, "train": train}
    if name == "linear":
        train["batch_size"] = 32 * channels
        return LinearModel(lookback, horizon, **common)
    if name == "linear_sparse":
        train["batch_size"] = 256 * channels
        return LinearModel(lookback, horizon, period=24, scale_windows=False, **common)
    train |= {"batch_size": 128 * channels, "epochs": 100, "patience": 10}
    return PatchTst(lookback, horizon, **common)


def run_ett(
    path: Path,
    horizon: int,
    model: str,
    lookback: int | None = None,
    seed: int = 2021,
    learning_rate: float | None = None,
) -> dict[str, Any]:
    """Train (where the model needs it) and score one model on an ETT-format file.

    Returns:
        mse and mae over every test window (and with PatchTST's ``drop_last``, batch 128),
        windows, model, horizon, lookback, file, seconds.
    """
    default_lookback, default_lr = ETT_MODELS[model]
    lookback = lookback or default_lookback
    frame = pd.read_csv(path)
    values = frame.drop(columns=[frame.columns[0]]).to_numpy(dtype=np.float64)
    splits = split(values, lookback)
    test_x, test_y = windows(splits, splits.test, horizon)
    started = time.perf_counter()
    if model == "repeat":
        prediction = repeat_last(test_x, horizon)
    else:
        channels = values.shape[1]
        fitted = ett_model(model, lookback, horizon, channels, seed, learning_rate or default_lr)
        train_x, train_y = windows(splits, splits.train, horizon)
        val_x, val_y = windows(splits, splits.val, horizon)
        with epoch_bar(f"training {model}", fitted) as progress:
            fitted.fit_parameters(
                (channel_batch(train_x, horizon), channel_targets(train_y)),
                (channel_batch(val_x, horizon), channel_targets(val_y)),
                progress,
            )
        point = fitted.predict_raw(channel_batch(test_x, horizon))[..., P50]
        prediction = from_channels(point, channels)
    kept = len(test_x) // 128 * 128
    dropped = metrics(prediction[:kept], test_y[:kept])
    return {
        **metrics(prediction, test_y),
        "mse_drop_last_128": dropped["mse"],
        "mae_drop_last_128": dropped["mae"],
        "windows": len(test_x),
        "model": model,
        "horizon": horizon,
        "lookback": lookback,
        "file": path.name,
        "seconds": round(time.perf_counter() - started, 1),
    }


@click.group()
def benchmark() -> None:
    """Reproduce published benchmarks; measure inference throughput."""


@benchmark.command()
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="An ETT-format CSV (date column, then channels; e.g. ETTh1.csv).",
)
@click.option("--horizon", type=int, default=96, show_default=True)
@click.option(
    "--model", type=click.Choice(list(ETT_MODELS)), default="linear_sparse", show_default=True
)
@click.option("--lookback", type=int, help="History length (default: the model's paper setting).")
@click.option("--lr", "learning_rate", type=float, help="Learning rate (default: the paper's).")
@click.option("--seed", type=int, default=2021, show_default=True)
def ett(
    path: Path,
    horizon: int,
    model: str,
    lookback: int | None,
    learning_rate: float | None,
    seed: int,
) -> None:
    """ETT protocol: 12/4/4-month split, train z-score, stride-1, every test window scored.

    The last output line is a JSON object with mse and mae (on scaled values, every test
    window) and the same under PatchTST's drop_last convention.
    """
    click.echo(json.dumps(run_ett(path, horizon, model, lookback, seed, learning_rate)))
