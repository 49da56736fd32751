"""The AR-X design: direct multi-horizon regression rows over a batch of series windows.

For every forecast origin ``t`` and horizon ``h`` one feature row holds: an intercept,
the last three values, the value one season before the target (``y[t+h-S*ceil(h/S)]``),
the weather at ``t`` (temperature, irradiance, wind speed) and the target's time of day
(sine and cosine). :mod:`~processors.forecast.arx` fits all of them by ridge least
squares, per window and horizon.

The B x H x N x F rows are never built. Every column but the seasonal one is a function
of the origin alone once the target's time of day is written as the origin's, rotated
by the horizon's angle (``sin(a + b) = sin a cos b + cos a sin b``): a row is
``basis(h) @ [origin features; seasonal value]``. The seasonal value, the target and
whether a sample is usable are functions of the target step alone (per block of
horizons that look back the same number of seasons), so the (horizon, origin) matrices
the fit needs are Hankel views of vectors over target steps (:func:`hankel`).
"""

import math
from dataclasses import dataclass

import torch

__all__ = [
    "COL_LAG0",
    "COL_SEASONAL",
    "N_EXOG",
    "N_FEATURES",
    "Design",
    "SeasonBlock",
    "build_design",
    "hankel",
]

COL_LAG0 = 1
COL_SEASONAL = 4
N_EXOG = 3
N_FEATURES = 5 + N_EXOG + 2
_DAY_MS = 86_400_000
#: Origin features: intercept, lags 0-2, weather, sine and cosine of the origin's phase.
N_ORIGIN = N_FEATURES - 1


@dataclass(frozen=True)
class SeasonBlock:
    """The horizons ``first``..``last`` (1-based), which look ``seasons`` seasons back.

    Attributes:
        weight: 1 where a target step has its value and its seasonal value, (B, T + H).
        seasonal: the seasonal value of each target step, 0 where unknown, (B, T + H).
    """

    first: int
    last: int
    weight: torch.Tensor
    seasonal: torch.Tensor


@dataclass(frozen=True)
class Design:
    """Training and prediction inputs of a batch, factorised by origin and target step.

    Origins are the steps ``S``..``T - 1`` (N of them, S steps per season); target
    step ``t`` of origin ``o`` at horizon ``h`` is ``o + h``.

    Attributes:
        origin: origin features, 0 for origins whose lags reach back before the first
            observation, shape (B, N, F - 1).
        lags_known: 1 where an origin's lags are all known, shape (B, N).
        target: value of every target step, 0 where unknown, shape (B, T + H).
        blocks: the horizons by how many seasons they look back.
        basis: maps ``[origin features; seasonal]`` to the design columns, (H, F, F).
        last: ``[origin features; seasonal]`` at the newest origin, NaN as 0, (B, H, F).
    """

    origin: torch.Tensor
    lags_known: torch.Tensor
    target: torch.Tensor
    blocks: list[SeasonBlock]
    basis: torch.Tensor
    last: torch.Tensor
    season: int


def hankel(vector: torch.Tensor, season: int, first: int, rows: int, n: int) -> torch.Tensor:
    """A (B, rows, n) view ``out[b, i, j] = vector[b, season + j + first + i]`` (no copy)."""
    return vector.as_strided(
        (vector.shape[0], rows, n),
        (vector.stride(0), 1, 1),
        vector.storage_offset() + season + first,
    )


def _ffill(y: torch.Tensor, leading: float = torch.nan) -> torch.Tensor:
    """Forward-fill NaNs along the last axis; NaNs before the first value become ``leading``."""
    valid = ~torch.isnan(y)
    idx = torch.where(valid, torch.arange(y.shape[-1], device=y.device), 0)
    idx = torch.cummax(idx, dim=-1).values
    filled = torch.gather(torch.nan_to_num(y, nan=0.0), -1, idx)
    return torch.where(torch.cummax(valid.int(), dim=-1).values.bool(), filled, leading)


def _basis(horizon: int, step_ms: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(H, F, F): design columns from ``[origin features; seasonal]`` at each horizon."""
    angle = 2 * math.pi * step_ms * torch.arange(1, horizon + 1, dtype=torch.float64) / _DAY_MS
    c, s = torch.cos(angle), torch.sin(angle)
    basis = torch.zeros(horizon, N_FEATURES, N_FEATURES, dtype=torch.float64)
    for column, source in enumerate((0, 1, 2, 3, N_ORIGIN, 4, 5, 6)):
        basis[:, column, source] = 1.0
    sin_o, cos_o = N_ORIGIN - 2, N_ORIGIN - 1
    basis[:, 8, sin_o], basis[:, 8, cos_o] = c, s  # sin(a + b)
    basis[:, 9, sin_o], basis[:, 9, cos_o] = -s, c  # cos(a + b)
    return basis.to(dtype=dtype, device=device)


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
    device = y.device
    # Every training origin, then the newest (T - 1) for the forecast itself.
    o = torch.cat([torch.arange(season, length), torch.tensor([length - 1])]).to(device)
    yf = _ffill(y)
    exf = torch.stack([_ffill(exog[..., k], 0.0) for k in range(exog.shape[-1])], dim=-1)
    offset_ms = (o - (length - 1)).double() * step_ms
    phase = 2 * math.pi * torch.remainder(last_ts_ms.double()[:, None] + offset_ms, _DAY_MS)
    phase = phase / _DAY_MS
    origin = torch.cat(
        [
            torch.ones(batch, len(o), 1, dtype=y.dtype, device=device),
            torch.stack([yf[:, o - k] for k in range(3)], dim=-1),
            exf[:, o, :],
            torch.sin(phase).to(y.dtype)[..., None],
            torch.cos(phase).to(y.dtype)[..., None],
        ],
        dim=-1,
    )  # (B, N + 1, F - 1)
    lags_known = ~torch.isnan(origin[:, :-1, 3])  # the oldest lag; yf is known from then on
    # Vectors over target steps 0..T+H-1 (unknown past the window's end).
    known = torch.zeros(batch, length + horizon, dtype=torch.bool, device=device)
    known[:, :length] = ~torch.isnan(y)
    target = torch.zeros(batch, length + horizon, dtype=y.dtype, device=device)
    target[:, :length] = torch.nan_to_num(y, nan=0.0)
    yf_known = ~torch.isnan(yf)
    yf0 = torch.nan_to_num(yf, nan=0.0)
    blocks: list[SeasonBlock] = []
    last_seasonal: list[torch.Tensor] = []
    for seasons in range(1, math.ceil(horizon / season) + 1):
        back = seasons * season
        shifted = torch.zeros_like(target)
        shifted[:, back : back + length] = yf0[:, : length + horizon - back]
        has = torch.zeros_like(known)
        has[:, back : back + length] = yf_known[:, : length + horizon - back]
        first, final = (seasons - 1) * season + 1, min(seasons * season, horizon)
        blocks.append(SeasonBlock(first, final, (known & has).to(y.dtype), shifted))
        last_seasonal.append(shifted[:, length - 1 + first : length + final])
    newest = torch.cat(
        [origin[:, None, -1, :].expand(-1, horizon, -1), torch.cat(last_seasonal, -1)[..., None]],
        dim=-1,
    )
    return Design(
        torch.where(lags_known[..., None], origin[:, :-1], 0.0),
        lags_known.to(y.dtype),
        target,
        blocks,
        _basis(horizon, step_ms, y.dtype, device),
        torch.nan_to_num(newest, nan=0.0),
        season,
    )
