"""The AR-X design: direct multi-horizon regression rows over a batch of series windows.

For every forecast origin ``t`` and horizon ``h`` one feature row holds: an intercept,
the last three values, the value one season before the target (``y[t+h-S*ceil(h/S)]``),
the weather at ``t`` (temperature, irradiance, wind speed) and the target's time of day
(sine and cosine). :mod:`~processors.forecast.arx` fits all of them by ridge least
squares, per window and horizon.
"""

import math
from dataclasses import dataclass

import torch

__all__ = ["COL_LAG0", "COL_SEASONAL", "N_FEATURES", "Design", "build_design"]

COL_LAG0 = 1
COL_SEASONAL = 4
N_EXOG = 3
N_FEATURES = 5 + N_EXOG + 2
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Design:
    """Training and prediction matrices of a batch.

    Attributes:
        x: features of every (origin, horizon), shape (B, H, N, F); NaN where a lag
            reaches back before the first observation (each model decides which samples
            it can use).
        y: target of every (origin, horizon), NaN where unknown, shape (B, H, N).
        x_last: features at the newest origin, shape (B, H, F).
    """

    x: torch.Tensor
    y: torch.Tensor
    x_last: torch.Tensor


def _ffill(y: torch.Tensor, leading: float = torch.nan) -> torch.Tensor:
    """Forward-fill NaNs along the last axis; NaNs before the first value become ``leading``."""
    valid = ~torch.isnan(y)
    idx = torch.where(valid, torch.arange(y.shape[-1], device=y.device), 0)
    idx = torch.cummax(idx, dim=-1).values
    filled = torch.gather(torch.nan_to_num(y, nan=0.0), -1, idx)
    return torch.where(torch.cummax(valid.int(), dim=-1).values.bool(), filled, leading)


def build_design(
    y: torch.Tensor,
    exog: torch.Tensor,
    last_ts_ms: torch.Tensor,
    step_ms: int,
    horizon: int,
) -> Design:
    """Build the design of a batch of equally long windows.

    Args:
        y: target history, NaN where missing, shape (B, T), T > steps per day.
        exog: weather history aligned with ``y``, NaN where missing, shape (B, T, 3).
        last_ts_ms: start time of each window's last step, shape (B,), float64.
        step_ms: step length in milliseconds.
        horizon: number of steps ahead, H.
    """
    batch, length = y.shape
    season = _DAY_MS // step_ms
    origins = torch.arange(season, length, device=y.device)
    h = torch.arange(1, horizon + 1, device=y.device)
    seasonal_back = h - season * torch.ceil(h / season).long()

    yf = _ffill(y)
    exf = torch.stack([_ffill(exog[..., k], 0.0) for k in range(exog.shape[-1])], dim=-1)

    def features(o: torch.Tensor) -> torch.Tensor:
        # o: origins, shape (N,) -> features (B, H, N, F)
        n = o.shape[0]
        lags = torch.stack([yf[:, o - k] for k in range(3)], dim=-1)  # (B, N, 3)
        seas = yf[:, (o[None, :] + seasonal_back[:, None])]  # (B, H, N)
        wx = exf[:, o, :]  # (B, N, 3)
        offset_ms = ((o[None, :] + h[:, None]) - (length - 1)).double() * step_ms  # (H, N)
        target_ms = last_ts_ms.double()[:, None, None] + offset_ms[None]
        phase = 2 * math.pi * torch.remainder(target_ms, _DAY_MS) / _DAY_MS
        ones = torch.ones(batch, horizon, n, 1, dtype=y.dtype, device=y.device)
        return torch.cat(
            [
                ones,
                lags[:, None].expand(-1, horizon, -1, -1),
                seas[..., None],
                wx[:, None].expand(-1, horizon, -1, -1),
                torch.sin(phase).to(y.dtype)[..., None],
                torch.cos(phase).to(y.dtype)[..., None],
            ],
            dim=-1,
        )

    target_idx = origins[None, :] + h[:, None]  # (H, N)
    inside = target_idx < length
    target = y[:, target_idx.clamp(max=length - 1)]
    target = torch.where(inside[None], target, torch.nan)
    x = features(origins)
    last = torch.tensor([length - 1], device=y.device)
    x_last = torch.nan_to_num(features(last)[:, :, 0, :], nan=0.0)
    return Design(x, target, x_last)
