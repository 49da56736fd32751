"""Micro-batch forecasting: choose a model per window, one batched call per model."""

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from processors.forecast.design import build_design
from processors.forecast.history import Window
from processors.forecast.models import MODELS
from processors.quality.gaps import fill_short_gaps

__all__ = ["MODEL_VERSION", "Forecast", "ForecastConfig", "choose_model", "forecast_batch"]

MODEL_VERSION = "0.1.0"
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class ForecastConfig:
    """Parameters of the forecasting stage.

    Attributes:
        step_ms: step of the series.
        horizon_steps: steps ahead to forecast.
        device: torch device name.
        chunk: windows per tensor call (bounds memory: B*H*N*F floats).
        min_days_arx: observed days needed before AR-X is used.
        min_completeness: below this window completeness the fallback model answers.
        max_fill_steps: gaps up to this many steps are interpolated in the model inputs.
    """

    step_ms: int
    horizon_steps: int
    device: str = "cpu"
    chunk: int = 64
    min_days_arx: float = 2.0
    min_completeness: float = 0.8
    max_fill_steps: int = 4


@dataclass(frozen=True)
class Forecast:
    """Quantile forecasts of one series at one issue time.

    ``target_ts_ms[h]`` is the start of the step ``h + 1`` steps after the last observed.
    """

    site_id: str
    quantity: str
    issued_at_ms: int
    target_ts_ms: np.ndarray
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model: str
    completeness: float = 1.0
    fallback: str | None = None


def choose_model(window: Window, config: ForecastConfig) -> tuple[str | None, str | None]:
    """The model a window supports (None: too little history), and why it is a fallback.

    A window whose completeness is under ``min_completeness`` gets the seasonal naive (or
    persistence) instead of AR-X, and the reason says so.
    """
    per_day = _DAY_MS // config.step_ms
    if window.observed_steps >= config.min_days_arx * per_day:
        if window.completeness >= config.min_completeness:
            return "arx", None
        reason = f"completeness {window.completeness:.2f} < {config.min_completeness:.2f}"
        return ("seasonal_naive" if _has_yesterday(window, per_day) else "persistence"), reason
    if window.observed_steps >= per_day + 4:
        return "seasonal_naive", None
    if window.observed_steps >= 4 and np.isfinite(window.y[-1]):
        return "persistence", None
    return None, None


def _has_yesterday(window: Window, per_day: int) -> bool:
    """Whether the last day of the window is observed enough for the seasonal naive."""
    return bool(np.isfinite(window.y[-per_day:]).mean() >= 0.5)


def _clip_bounds(quantity: str, capacity: float | None) -> tuple[float | None, float | None]:
    if quantity in ("pv_power", "wind_power"):
        return 0.0, capacity
    if quantity == "pm25":
        return 0.0, None
    return None, None


def forecast_batch(
    windows: list[Window], config: ForecastConfig, capacities: dict[str, float] | None = None
) -> list[Forecast]:
    """Forecast every window that has enough history, batched by model.

    PV and wind forecasts are clipped to [0, capacity] and PM2.5 to >= 0; quantiles are
    sorted so p10 <= p50 <= p90.
    """
    capacities = capacities or {}
    by_model: dict[str, list[Window]] = {}
    reasons: dict[int, str] = {}
    for window in windows:
        name, reason = choose_model(window, config)
        if name is not None:
            by_model.setdefault(name, []).append(window)
        if reason is not None:
            reasons[id(window)] = reason
    out: list[Forecast] = []
    steps = np.arange(1, config.horizon_steps + 1, dtype=np.int64) * config.step_ms
    for name, group in by_model.items():
        for start in range(0, len(group), config.chunk):
            chunk = group[start : start + config.chunk]
            quantiles = _run(name, chunk, config)
            for window, q in zip(chunk, quantiles, strict=True):
                low, high = _clip_bounds(window.quantity, capacities.get(window.site_id))
                q = np.sort(np.clip(q, low, high), axis=-1)
                out.append(
                    Forecast(
                        window.site_id,
                        window.quantity,
                        window.last_ts_ms + config.step_ms,
                        window.last_ts_ms + steps,
                        q[:, 0],
                        q[:, 1],
                        q[:, 2],
                        name,
                        window.completeness,
                        reasons.get(id(window)),
                    )
                )
    return out


def _run(name: str, chunk: list[Window], config: ForecastConfig) -> np.ndarray:
    """Quantiles (B, H, 3) of a chunk; series are normalised in and de-normalised out."""
    # Short gaps are interpolated in the inputs (hourly data becomes quarter-hourly).
    y, _ = fill_short_gaps(np.stack([w.y for w in chunk]), config.max_fill_steps)
    exog = np.stack([w.exog for w in chunk])
    with warnings.catch_warnings():  # all-NaN columns (no weather) give NaN: set below
        warnings.simplefilter("ignore", RuntimeWarning)
        center = np.nan_to_num(np.nanmean(y, axis=1, keepdims=True))
        scale = np.nan_to_num(np.nanstd(y, axis=1, keepdims=True), nan=1.0)
        exog_center = np.nan_to_num(np.nanmean(exog, axis=1, keepdims=True))
        exog_scale = np.nan_to_num(np.nanstd(exog, axis=1, keepdims=True), nan=1.0)
    scale[scale < 1e-9] = 1.0
    exog_scale[exog_scale < 1e-9] = 1.0
    device = torch.device(config.device)
    with torch.inference_mode():
        design = build_design(
            torch.tensor((y - center) / scale, dtype=torch.float32, device=device),
            torch.tensor((exog - exog_center) / exog_scale, dtype=torch.float32, device=device),
            torch.tensor([w.last_ts_ms for w in chunk], dtype=torch.float64, device=device),
            config.step_ms,
            config.horizon_steps,
        )
        normalised = MODELS[name](design).float().cpu().numpy()
    return normalised * scale[..., None] + center[..., None]
