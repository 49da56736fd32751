"""The least-squares AR-X model: lags and weather covariates, one closed-form fit per window.

Each window gets its own ridge regression per horizon step on the shared
:mod:`~processors.forecast.design`, so the model needs no training and adapts to each
site at once; fitting only calibrates its quantiles.
"""

import warnings
from typing import Any

import numpy as np
import torch
from typing_extensions import override

from gridbrain.processors.forecast.base import QuantileModel
from gridbrain.processors.forecast.baselines import nan_quantiles
from gridbrain.processors.forecast.batch import LEVELS, WindowBatch, window_scale
from gridbrain.processors.forecast.design import COL_SEASONAL, N_EXOG, Design, build_design
from gridbrain.processors.quality.gaps import fill_short_gaps

__all__ = ["Arx"]


def _ridge(design: Design, ridge: float) -> np.ndarray:
    """Quantiles (B, H, Q) of the ridge AR-X fit of every window of ``design``.

    It models the departure from the seasonal-naive forecast (the value a day earlier),
    so the ridge shrinks towards that baseline rather than towards zero. The penalty is
    that of a ridge on standardised features with a free intercept (``ridge * n * var_j``
    on raw coefficient j), computed from the weighted Gram matrix alone. Quantiles are the
    p50 plus in-sample error quantiles at the same horizon (all horizons where one has
    no sample).
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
    resid = (design.y - fitted).float().cpu().numpy()
    per_h = nan_quantiles(resid)  # (B, H, Q)
    pooled = nan_quantiles(resid.reshape(len(resid), -1))[:, None, :]
    per_h = np.nan_to_num(np.where(np.isnan(per_h), pooled, per_h))
    return np.asarray(p50.float().cpu().numpy()[..., None] + per_h)


class Arx(QuantileModel):
    """Ridge AR-X on the last values, the value a day back, weather and time of day.

    Args:
        ridge: penalty on standardised coefficients.
        chunk: windows per tensor call (memory grows as chunk * H * L * features).
        max_fill_steps: gaps up to this many steps are interpolated in the inputs.
        device: torch device.
    """

    kind = "arx"

    def __init__(
        self, ridge: float = 0.1, chunk: int = 64, max_fill_steps: int = 4, device: str = "cpu"
    ) -> None:
        super().__init__()
        self.ridge = ridge
        self.max_fill_steps = max_fill_steps
        self.chunk = chunk
        self.device = device

    @override
    def config(self) -> dict[str, Any]:
        return {"ridge": self.ridge, "chunk": self.chunk, "max_fill_steps": self.max_fill_steps}

    @override
    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        parts = [
            self._predict_chunk(batch.take(slice(i, i + self.chunk)))
            for i in range(0, len(batch), self.chunk)
        ]
        return np.concatenate(parts) if parts else np.empty((0, batch.horizon, len(LEVELS)))

    def _predict_chunk(self, batch: WindowBatch) -> np.ndarray:
        # Short gaps are interpolated (hourly data becomes quarter-hourly) and windows are
        # normalised per series, which keeps the Gram matrix well scaled in float32.
        y, _ = fill_short_gaps(batch.y, self.max_fill_steps)
        center, scale = window_scale(y)
        exog = np.full((len(y), batch.lookback, N_EXOG), np.nan)
        width = min(N_EXOG, batch.exog.shape[-1])
        exog[..., :width] = batch.exog[:, : batch.lookback, :width]
        with warnings.catch_warnings():  # all-NaN columns (no weather) give NaN: set below
            warnings.simplefilter("ignore", RuntimeWarning)
            exog_center = np.nan_to_num(np.nanmean(exog, axis=1, keepdims=True))
            exog_scale = np.nan_to_num(np.nanstd(exog, axis=1, keepdims=True), nan=1.0)
        exog_scale[exog_scale < 1e-9] = 1.0
        device = torch.device(self.device)
        with torch.inference_mode():
            design = build_design(
                torch.tensor((y - center) / scale, dtype=torch.float32, device=device),
                torch.tensor((exog - exog_center) / exog_scale, dtype=torch.float32, device=device),
                torch.tensor(batch.last_ts_ms, dtype=torch.float64, device=device),
                batch.step_ms,
                batch.horizon,
            )
            normalised = _ridge(design, self.ridge)
        return normalised * scale[..., None] + center[..., None]
