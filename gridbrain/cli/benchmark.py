"""``gridbrain benchmark``: the ETT long-horizon protocol and inference throughput."""

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from gridbrain.cli.progress import epoch_bar
from gridbrain.processors.evaluation.ett import (
    channel_batch,
    channel_targets,
    from_channels,
    metrics,
    repeat_last,
    split,
    windows,
)
from gridbrain.processors.forecast.base import QuantileModel
from gridbrain.processors.forecast.batch import P50, WindowBatch

__all__ = ["ETT_MODELS", "ett_model", "inference_throughput", "run_ett"]

#: Model -> (default look-back, learning rate) on ETT (the papers' settings).
ETT_MODELS: dict[str, tuple[int, float]] = {
    "repeat": (336, 0.0),
    "linear": (336, 0.005),  # RLinear
    "linear_sparse": (720, 0.02),  # SparseTSF, period 24
    "patchtst": (336, 0.0001),  # PatchTST/42 (PatchTST/64: --lookback 512)
    "ensemble": (720, 0.0),  # mean of linear and linear_sparse, each with its own settings
}


def ett_model(
    name: str, lookback: int, horizon: int, channels: int, seed: int, lr: float
) -> QuantileModel:
    """A point-forecast (MSE) model for the ETT protocol, without covariates.

    Batches hold the papers' number of windows, each of ``channels`` series; the loss is
    the MSE in the (already z-scored) data's units, as the papers train.
    """
    from gridbrain.processors.forecast.linear import LinearModel
    from gridbrain.processors.forecast.patchtst import PatchTst

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


def _ett_predict(
    values: np.ndarray,
    horizon: int,
    model: str,
    lookback: int | None,
    seed: int,
    learning_rate: float | None,
    device: str = "cpu",
) -> np.ndarray:
    """Test-window point forecasts (N, H, C) of one model, trained where it needs it."""
    default_lookback, default_lr = ETT_MODELS[model]
    splits = split(values, lookback or default_lookback)
    test_x, _ = windows(splits, splits.test, horizon)
    if model == "repeat":
        return repeat_last(test_x, horizon)
    channels = values.shape[1]
    fitted = ett_model(model, splits.lookback, horizon, channels, seed, learning_rate or default_lr)
    fitted.to(device)
    train_x, train_y = windows(splits, splits.train, horizon)
    val_x, val_y = windows(splits, splits.val, horizon)
    with epoch_bar(f"training {model}", fitted) as progress:
        fitted.fit_parameters(
            (channel_batch(train_x, horizon), channel_targets(train_y)),
            (channel_batch(val_x, horizon), channel_targets(val_y)),
            progress,
        )
    point = fitted.predict_raw(channel_batch(test_x, horizon))[..., P50]
    return from_channels(point, channels)


def run_ett(
    path: Path,
    horizon: int,
    model: str,
    lookback: int | None = None,
    seed: int = 2021,
    learning_rate: float | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train (where the model needs it) and score one model on an ETT-format file.

    ``ensemble`` averages the forecasts of ``linear`` and ``linear_sparse``, each trained
    with its paper's settings (``--lookback`` and ``--lr`` then apply to both). Equal
    weights: weights of least validation MSE (steps of 0.1) put 1.0 on ``linear`` at
    H=336 and scored 0.436 against the mean's 0.429 (the validation months are not the
    test months; "the forecast combination puzzle").

    Returns:
        mse and mae over every test window (and with PatchTST's ``drop_last``, batch 128),
        windows, model, members (each one's mse and mae), horizon, lookback, file, seconds.
    """
    frame = pd.read_csv(path)
    values = frame.drop(columns=[frame.columns[0]]).to_numpy(dtype=np.float64)
    started = time.perf_counter()
    members = ["linear", "linear_sparse"] if model == "ensemble" else [model]
    forecasts = [
        _ett_predict(values, horizon, m, lookback, seed, learning_rate, device) for m in members
    ]
    prediction = np.mean(forecasts, axis=0)
    # The test targets are the same rows whatever the look-back (only inputs start earlier).
    splits = split(values, 1)
    _, test_y = windows(splits, splits.test, horizon)
    kept = len(test_y) // 128 * 128
    dropped = metrics(prediction[:kept], test_y[:kept])
    return {
        **metrics(prediction, test_y),
        "mse_drop_last_128": dropped["mse"],
        "mae_drop_last_128": dropped["mae"],
        "windows": len(test_y),
        "model": model,
        "members": {m: metrics(f, test_y) for m, f in zip(members, forecasts, strict=True)},
        "horizon": horizon,
        "lookback": lookback or max(ETT_MODELS[m][0] for m in members),
        "file": path.name,
        "device": device,
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
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True
)
def ett(
    path: Path,
    horizon: int,
    model: str,
    lookback: int | None,
    learning_rate: float | None,
    seed: int,
    device: str,
) -> None:
    """ETT protocol: 12/4/4-month split, train z-score, stride-1, every test window scored.

    The last output line is a JSON object with mse and mae (on scaled values, every test
    window) and the same under PatchTST's drop_last convention.
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    click.echo(json.dumps(run_ett(path, horizon, model, lookback, seed, learning_rate, device)))


def _random_windows(count: int, lookback: int, horizon: int, step_ms: int) -> WindowBatch:
    rng = np.random.default_rng(0)
    t = np.arange(lookback)
    y = (
        100
        + 30 * np.sin(2 * np.pi * t / (86_400_000 // step_ms))
        + rng.normal(0, 5, (count, lookback))
    )
    return WindowBatch(
        y=y.astype(np.float32),
        exog=rng.normal(10, 3, (count, lookback + horizon, 3)).astype(np.float32),
        last_ts_ms=1_735_689_600_000 + step_ms * np.arange(count, dtype=np.int64),
        step_ms=step_ms,
        horizon=horizon,
        latitude=np.full(count, 48.0),
        longitude=np.full(count, 11.0),
    )


def inference_throughput(
    model_name: str, batch_sizes: list[int], device: str, seconds: float = 3.0
) -> list[dict[str, Any]]:
    """Windows per second of ``model.forecast`` at each batch size (7-day history, day ahead).

    Each size runs for about ``seconds`` after one warm-up call; the model's weights are
    its initial ones (the cost of a forecast does not depend on them).
    """
    from gridbrain.cli.training import TrainOptions, make_model

    step_ms = 900_000
    options = TrainOptions(lookback=672, horizon=96, step_ms=step_ms, device=device)
    model = make_model(model_name, options)
    pool = _random_windows(max(batch_sizes), options.lookback, options.horizon, step_ms)
    rows: list[dict[str, Any]] = []
    for size in batch_sizes:
        batch = pool.take(slice(0, size))
        model.forecast(batch)  # warm-up
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds or calls < 2:
            model.forecast(batch)
            calls += 1
        elapsed = time.perf_counter() - started
        rows.append(
            {
                "model": model.name,
                "device": device,
                "batch": size,
                "windows_per_s": round(calls * size / elapsed, 1),
                "ms_per_call": round(1000 * elapsed / calls, 2),
            }
        )
    base = float(rows[0]["windows_per_s"])
    for row in rows:
        row["vs_batch_1"] = round(float(row["windows_per_s"]) / base, 1)
    return rows


@benchmark.command()
@click.option(
    "--model",
    "model_name",
    type=click.Choice(["linear", "linear_daily", "patchtst", "arx", "seasonal_naive"]),
    default="linear",
    show_default=True,
)
@click.option("--batch-sizes", default="1,4,16,64,256,1024,4096", show_default=True)
@click.option("--seconds", type=float, default=3.0, show_default=True, help="Time per size.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--threads", type=int, help="Torch CPU threads (default: torch's).")
def inference(
    model_name: str, batch_sizes: str, seconds: float, device: str, threads: int | None
) -> None:
    """Inference throughput (windows/s) by batch size; the last line is JSON.

    Compare the batched rate with one window per call (``vs_batch_1``; ``ratio`` in the
    JSON line is the best batch's).
    """
    import torch

    from gridbrain.cli.output import render
    from gridbrain.processors.device import resolve_device

    torch.set_num_threads(threads or torch.get_num_threads())
    sizes = [int(s) for s in batch_sizes.split(",")]
    rows = inference_throughput(model_name, sizes, resolve_device(device), seconds)
    click.echo(render(rows, "table"))
    best = max(rows, key=lambda r: r["windows_per_s"])
    click.echo(
        json.dumps(
            {
                "model": rows[0]["model"],
                "device": rows[0]["device"],
                "threads": torch.get_num_threads(),
                "batch_1_windows_per_s": rows[0]["windows_per_s"],
                "best_windows_per_s": best["windows_per_s"],
                "best_batch": best["batch"],
                "ratio": best["vs_batch_1"],
            }
        )
    )


def _add_subcommands() -> None:
    from gridbrain.cli.alert_eval import alerts
    from gridbrain.cli.bench_alert import alert_stage
    from gridbrain.cli.bench_api import api_latency
    from gridbrain.cli.bench_dayahead import dayahead
    from gridbrain.cli.bench_dispatch import dispatch
    from gridbrain.cli.bench_forecast import forecast_stage
    from gridbrain.cli.bench_household import household
    from gridbrain.cli.bench_latency import latency
    from gridbrain.cli.bench_operator import operator
    from gridbrain.cli.bench_pareto import pareto
    from gridbrain.cli.bench_pipeline import pipeline
    from gridbrain.cli.bench_qlearning import qlearning
    from gridbrain.cli.bench_scenarios import scenarios
    from gridbrain.cli.bench_weather_text import weather_text
    from gridbrain.cli.bench_writes import writes

    benchmark.add_command(alerts)
    benchmark.add_command(api_latency)
    benchmark.add_command(alert_stage)
    benchmark.add_command(dayahead)
    benchmark.add_command(dispatch)
    benchmark.add_command(forecast_stage)
    benchmark.add_command(household)
    benchmark.add_command(latency)
    benchmark.add_command(operator)
    benchmark.add_command(pareto)
    benchmark.add_command(pipeline)
    benchmark.add_command(qlearning)
    benchmark.add_command(scenarios)
    benchmark.add_command(weather_text)
    benchmark.add_command(writes)


_add_subcommands()
