"""Batched multi-horizon quantile models: persistence, seasonal naive and ridge AR-X.

Every model maps a :class:`~processors.forecast.design.Design` to p10/p50/p90 of shape
(B, H). Quantiles are the p50 plus empirical quantiles of the model's own errors at the
same horizon over the history (in-sample for AR-X).
"""

from collections.abc import Callable

import torch

from processors.forecast.design import COL_LAG0, COL_SEASONAL, Design

__all__ = ["MODELS", "QUANTILES", "arx", "persistence", "seasonal_naive"]

QUANTILES = (0.1, 0.5, 0.9)

ModelFn = Callable[[Design], torch.Tensor]


def _nan_quantiles(values: torch.Tensor, q: tuple[float, ...]) -> torch.Tensor:
    """Quantiles over the last axis ignoring NaN, shape (len(q), *values.shape[:-1]).

    One sort for all quantiles (``torch.nanquantile`` sorts once per call and is several
    times slower here); linear interpolation as numpy's default. All-NaN rows give NaN.
    """
    valid = ~torch.isnan(values)
    count = valid.sum(dim=-1)
    ordered = torch.sort(torch.where(valid, values, torch.inf), dim=-1).values
    out = []
    for level in q:
        pos = (count - 1).clamp(min=0).to(values.dtype) * level
        lo = pos.floor().long()
        hi = pos.ceil().long()
        low = torch.gather(ordered, -1, lo[..., None])[..., 0]
        high = torch.gather(ordered, -1, hi[..., None])[..., 0]
        value = low + (high - low) * (pos - lo)
        out.append(torch.where(count > 0, value, torch.nan))
    return torch.stack(out)


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
    per_h = _nan_quantiles(resid, QUANTILES)  # (3, B, H)
    if torch.isnan(per_h).any():
        pooled = _nan_quantiles(resid.flatten(1), QUANTILES)  # (3, B)
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


def arx(design: Design, ridge: float = 0.1) -> torch.Tensor:
    """Least-squares AR-X with weather covariates, one closed-form ridge fit per horizon.

    It models the departure from the seasonal-naive forecast (the value a day earlier),
    so the ridge shrinks towards that baseline rather than towards zero: with little
    history it stays close to the seasonal naive, with more it learns the autoregressive
    and weather effects.

    The penalty is that of a ridge on standardised features with a free intercept
    (``ridge * n * var_j`` on raw coefficient j), computed from the weighted Gram matrix
    alone, so the (B, H, N, F) design is read only twice: for the Gram matrix and for
    the fitted values. Windows arrive normalised per series (see the forecaster), which
    keeps the Gram matrix well scaled in float32.
    """
    usable = ~torch.isnan(design.y) & ~torch.isnan(design.x).any(dim=-1)
    x = torch.nan_to_num(design.x, nan=0.0)
    w = usable.to(x.dtype)  # (B, H, N)
    xw = x * w[..., None]
    gram = (xw.transpose(-1, -2) @ x).double()  # (B, H, F, F)
    prior = x[..., COL_SEASONAL]
    target = torch.nan_to_num(design.y - prior, nan=0.0)
    rhs = (xw.transpose(-1, -2) @ target[..., None]).double()
    n = gram[..., 0, 0].clamp(min=1.0)  # the intercept column is all ones
    mean = gram[..., 0, :] / n[..., None]
    var = (torch.diagonal(gram, dim1=-2, dim2=-1) / n[..., None] - mean**2).clamp(min=1e-12)
    penalty = ridge * n[..., None] * var
    penalty[..., 0] = 1e-8 * n
    beta = torch.linalg.solve(gram + torch.diag_embed(penalty), rhs).to(design.x.dtype)
    fitted = torch.where(usable, prior + (x @ beta)[..., 0], torch.nan)
    p50 = design.x_last[..., COL_SEASONAL] + (design.x_last[..., None, :] @ beta)[..., 0, 0]
    return _with_residual_quantiles(fitted, design, p50)


MODELS: dict[str, ModelFn] = {
    "persistence": persistence,
    "seasonal_naive": seasonal_naive,
    "arx": arx,
}
