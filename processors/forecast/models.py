"""Batched multi-horizon quantile models: persistence, seasonal naive and ridge AR-X.

Every model maps a :class:`~processors.forecast.design.Design` to p10/p50/p90 of shape
(B, H). Quantiles are the p50 plus empirical quantiles of the model's own errors at the
same horizon over the history (in-sample for AR-X).
"""

from collections.abc import Callable

import torch

from processors.forecast.design import COL_LAG0, COL_SEASONAL, N_FEATURES, Design

__all__ = ["MODELS", "QUANTILES", "arx", "persistence", "seasonal_naive"]

QUANTILES = (0.1, 0.5, 0.9)

ModelFn = Callable[[Design], torch.Tensor]


def _with_residual_quantiles(
    fitted: torch.Tensor, design: Design, point: torch.Tensor
) -> torch.Tensor:
    """p10/p50/p90 (B, H, 3): the point forecast plus quantiles of its past errors.

    Errors of ``fitted`` (B, H, N) against ``design.y`` are taken per horizon; where a
    horizon has no error sample, the series' errors over all horizons stand in. Adding
    the median error as well corrects a biased point forecast, and the three quantiles
    of one sample are ordered by construction.
    """
    resid = design.y - fitted
    q = torch.tensor(QUANTILES, dtype=resid.dtype, device=resid.device)
    per_h = torch.nanquantile(resid, q, dim=-1)  # (3, B, H)
    pooled = torch.nanquantile(resid.flatten(1), q, dim=-1)  # (3, B)
    per_h = torch.where(torch.isnan(per_h), pooled[..., None], per_h)
    per_h = torch.nan_to_num(per_h, nan=0.0)
    return point[..., None] + per_h.permute(1, 2, 0)


def persistence(design: Design) -> torch.Tensor:
    """The last value, for every horizon."""
    return _with_residual_quantiles(design.x[..., COL_LAG0], design, design.x_last[..., COL_LAG0])


def seasonal_naive(design: Design) -> torch.Tensor:
    """The value one day before each target."""
    return _with_residual_quantiles(
        design.x[..., COL_SEASONAL], design, design.x_last[..., COL_SEASONAL]
    )


def arx(design: Design, ridge: float = 1e-2) -> torch.Tensor:
    """Least-squares AR-X with weather covariates, one closed-form ridge fit per horizon.

    Features are standardised per series and horizon so one ridge penalty fits all
    scales; the intercept is not penalised.
    """
    valid = ~torch.isnan(design.y)
    w = valid.to(design.x.dtype)[..., None]  # (B, H, N, 1)
    count = w.sum(dim=2).clamp(min=1.0)  # (B, H, 1)
    mean = (design.x * w).sum(dim=2) / count  # (B, H, F)
    mean[..., 0] = 0.0
    var = (((design.x - mean[:, :, None]) ** 2) * w).sum(dim=2) / count
    std = torch.sqrt(var).clamp(min=1e-6)
    std[..., 0] = 1.0
    xs = (design.x - mean[:, :, None]) / std[:, :, None]
    y = torch.nan_to_num(design.y, nan=0.0)
    xtx = (xs * w).transpose(-1, -2) @ xs  # (B, H, F, F)
    penalty = torch.full((N_FEATURES,), ridge, dtype=xs.dtype, device=xs.device)
    penalty[0] = 1e-8
    xtx = xtx + torch.diag(penalty) * count[..., None]
    xty = (xs * w).transpose(-1, -2) @ y[..., None]  # (B, H, F, 1)
    beta = torch.linalg.solve(xtx, xty)  # (B, H, F, 1)
    fitted = (xs @ beta)[..., 0]
    xl = (design.x_last - mean) / std
    p50 = (xl[..., None, :] @ beta)[..., 0, 0]
    return _with_residual_quantiles(fitted, design, p50)


MODELS: dict[str, ModelFn] = {
    "persistence": persistence,
    "seasonal_naive": seasonal_naive,
    "arx": arx,
}
