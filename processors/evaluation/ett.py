"""The ETT long-horizon protocol (Informer / LTSF-Linear / PatchTST family).

Split by row index into 12/4/4 months of 30 days, z-score with train-row statistics,
stride-1 windows, and MSE/MAE on the scaled values, averaged over every window, step and
channel. Every test window is scored (no ``drop_last``); see ``../shared/data/BENCHMARKS.md``.
"""

from dataclasses import dataclass

import numpy as np

from gridbrain.processors.forecast.batch import WindowBatch

__all__ = [
    "EttSplits",
    "channel_batch",
    "channel_targets",
    "from_channels",
    "metrics",
    "repeat_last",
    "split",
    "windows",
]

_MONTH = 30 * 24


@dataclass(frozen=True)
class EttSplits:
    """Scaled data and the row ranges of each split (targets start at ``start + lookback``).

    Attributes:
        data: all rows, z-scored with train statistics, shape (rows, channels).
        train: (first input row, end row) of the training windows.
        val: same for validation.
        test: same for test.
        lookback: input length L.
    """

    data: np.ndarray
    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]
    lookback: int


def split(values: np.ndarray, lookback: int) -> EttSplits:
    """Scale ``values`` (rows, channels) with train statistics and mark the three splits."""
    train_end = 12 * _MONTH
    val_end = train_end + 4 * _MONTH
    test_end = val_end + 4 * _MONTH
    if len(values) < test_end:
        raise ValueError(f"an ETT-format file has at least {test_end} rows, got {len(values)}")
    mean = values[:train_end].mean(axis=0)
    std = values[:train_end].std(axis=0)  # population std, as StandardScaler
    std[std == 0] = 1.0
    data = ((values - mean) / std).astype(np.float32)
    return EttSplits(
        data,
        (0, train_end),
        (train_end - lookback, val_end),
        (val_end - lookback, test_end),
        lookback,
    )


def windows(
    splits: EttSplits, part: tuple[int, int], horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stride-1 windows of a split: inputs (N, L, C) and targets (N, H, C)."""
    start, end = part
    lookback = splits.lookback
    count = end - start - lookback - horizon + 1
    index = start + np.arange(count)[:, None]
    x = splits.data[index + np.arange(lookback)]
    y = splits.data[index + lookback + np.arange(horizon)]
    return x, y


def repeat_last(x: np.ndarray, horizon: int) -> np.ndarray:
    """The "Repeat" baseline: the last input value for every step."""
    return np.repeat(x[:, -1:, :], horizon, axis=1)


def metrics(prediction: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MSE and MAE over every window, step and channel."""
    error = prediction.astype(np.float64) - target
    return {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}


def channel_batch(x: np.ndarray, horizon: int) -> WindowBatch:
    """Windows (N, L, C) as N * C single-series windows (channel-independent models).

    ETT windows carry no weather and no location; their timestamps are not used.
    """
    n, lookback, channels = x.shape
    series = x.transpose(0, 2, 1).reshape(n * channels, lookback)
    return WindowBatch(
        y=series,
        exog=np.zeros((len(series), lookback + horizon, 0), dtype=np.float32),
        last_ts_ms=np.zeros(len(series), dtype=np.int64),
        step_ms=3_600_000,
        horizon=horizon,
        latitude=np.full(len(series), np.nan),
        longitude=np.full(len(series), np.nan),
    )


def channel_targets(y: np.ndarray) -> np.ndarray:
    """Targets (N, H, C) in :func:`channel_batch` order, shape (N * C, H)."""
    n, horizon, channels = y.shape
    return y.transpose(0, 2, 1).reshape(n * channels, horizon)


def from_channels(prediction: np.ndarray, channels: int) -> np.ndarray:
    """Per-channel forecasts (N * C, H) back to (N, H, C)."""
    rows, horizon = prediction.shape
    return prediction.reshape(rows // channels, channels, horizon).transpose(0, 2, 1)
