"""``gridbrain benchmark ett``: the ETT long-horizon protocol, reproducible in one command."""

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
from tqdm import tqdm

from processors.evaluation.ett import metrics, repeat_last, split, windows
from processors.forecast.dlinear import DLinearConfig, fit_dlinear, predict

__all__ = ["run_ett"]


def run_ett(path: Path, horizon: int, model: str, lookback: int, seed: int) -> dict[str, Any]:
    """Train (where the model needs it) and score one model on an ETT-format file.

    Returns:
        The result: mse, mae, windows, model, horizon, lookback, file, seconds.
    """
    frame = pd.read_csv(path)
    values = frame.drop(columns=[frame.columns[0]]).to_numpy(dtype=np.float64)
    splits = split(values, lookback)
    test_x, test_y = windows(splits, splits.test, horizon)
    started = time.perf_counter()
    if model == "repeat":
        prediction = repeat_last(test_x, horizon)
    else:
        config = DLinearConfig(seed=seed)
        with tqdm(total=config.epochs, desc="training dlinear", unit="epoch") as bar:

            def epoch_done(epoch: int, train_mse: float, val_mse: float) -> None:
                bar.set_postfix(train_mse=f"{train_mse:.4f}", val_mse=f"{val_mse:.4f}")
                bar.update(1)

            fitted = fit_dlinear(
                windows(splits, splits.train, horizon),
                windows(splits, splits.val, horizon),
                config,
                epoch_done,
            )
        prediction = predict(fitted, test_x)
    return {
        **metrics(prediction, test_y),
        "windows": len(test_x),
        "model": model,
        "horizon": horizon,
        "lookback": lookback,
        "file": path.name,
        "seconds": round(time.perf_counter() - started, 1),
    }


@click.group()
def benchmark() -> None:
    """Reproduce published benchmarks."""


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
    "--model", type=click.Choice(["dlinear", "repeat"]), default="dlinear", show_default=True
)
@click.option("--lookback", type=int, default=336, show_default=True)
@click.option("--seed", type=int, default=2021, show_default=True)
def ett(path: Path, horizon: int, model: str, lookback: int, seed: int) -> None:
    """ETT protocol: 12/4/4-month split, train z-score, stride-1, every test window scored.

    The last output line is a JSON object with mse and mae (on scaled values).
    """
    click.echo(json.dumps(run_ett(path, horizon, model, lookback, seed)))
