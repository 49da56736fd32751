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
from gridbrain.processors.forecast.batch import LEVELS, WindowBatch, window_scale
from gridbrain.processors.forecast.design import N_EXOG, Design, build_design, hankel
from gridbrain.processors.quality.gaps import fill_short_gaps

__all__ = ["Arx"]


def _quantiles(ordered: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Quantiles (..., Q) of rows sorted with their ``count`` samples first.

    The arithmetic of :func:`~processors.forecast.baselines.nan_quantiles`; rows without
    samples give NaN.
    """
    out = []
    for level in LEVELS:
        pos = np.maximum(count - 1, 0) * level
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        low = np.take_along_axis(ordered, lo[..., None], axis=-1)[..., 0]
        high = np.take_along_axis(ordered, hi[..., None], axis=-1)[..., 0]
        with np.errstate(invalid="ignore"):
            value = low + (high - low) * (pos - lo)
        out.append(np.where(count > 0, value, np.nan))
    return np.stack(out, axis=-1)


def _ridge(design: Design, ridge: float) -> np.ndarray:
    """Quantiles (B, H, Q) of the ridge AR-X fit of every window of ``design``.

    It models the departure from the seasonal-naive forecast (the value a day earlier),
    so the ridge shrinks towards that baseline rather than towards zero. The penalty is
    that of a ridge on standardised features with a free intercept (``ridge * n * var_j``
    on raw coefficient j), computed from the weighted Gram matrix alone. Quantiles are the
    p50 plus in-sample error quantiles at the same horizon (all horizons where one has
    no sample).

    The Gram matrices of every window and horizon are batched products of Hankel views
    and origin features in the factorised basis of :mod:`~processors.forecast.design`,
    mapped to the design's columns; no B x H x N x F design is built.
    """
    a, known, season, basis = design.origin, design.lags_known, design.season, design.basis
    batch, n, n_origin = a.shape
    rows, cols = torch.triu_indices(n_origin, n_origin, device=a.device)
    pairs = a[..., :, None] * a[..., None, :]  # (B, N, F-1, F-1); 0 where lags are unknown
    # Transposed, contiguous left operands: (k, N) @ (N, horizons) suits batched GEMM best.
    pairs_t = pairs.reshape(batch, n, -1)[..., rows * n_origin + cols].transpose(-1, -2)
    pairs_t, a_t = pairs_t.contiguous(), a.transpose(-1, -2).contiguous()
    known_t = known[:, None, :]
    resid = np.empty((batch, basis.shape[0], n))
    grams, rhss = [], []
    for block in design.blocks:
        h0, count = block.first - 1, block.last - block.first + 1

        def sums(
            left: torch.Tensor, vector: torch.Tensor, h0: int = h0, count: int = count
        ) -> torch.Tensor:
            """(B, count, k): sum over origins of ``left`` times the target-step vector."""
            view = hankel(vector, season, h0 + 1, count, n)
            return (left @ view.transpose(-1, -2)).transpose(-1, -2)

        w, s, y = block.weight, block.seasonal, design.target
        ws = w * s
        gram_z = a.new_zeros((batch, count, n_origin + 1, n_origin + 1))
        packed = sums(pairs_t, w)
        gram_z[..., rows, cols] = packed
        gram_z[..., cols, rows] = packed
        gram_z[..., :n_origin, n_origin] = sums(a_t, ws)
        gram_z[..., n_origin, :n_origin] = gram_z[..., :n_origin, n_origin]
        gram_z[..., n_origin, n_origin] = sums(known_t, ws * s)[..., 0]
        rhs_z = torch.cat([sums(a_t, w * y), sums(known_t, ws * y)], dim=-1)
        rhs_z = rhs_z - gram_z[..., n_origin, :]  # the target is the departure from s
        b = basis[h0 : h0 + count]
        grams.append(b @ gram_z @ b.transpose(-1, -2))  # the design's columns
        rhss.append((b @ rhs_z[..., None])[..., 0])
    gram, rhs = torch.cat(grams, dim=1), torch.cat(rhss, dim=1)
    n_used = gram[..., 0, 0].clamp(min=1.0)  # the intercept column is all ones
    mean = gram[..., 0, :] / n_used[..., None]
    var = (torch.diagonal(gram, dim1=-2, dim2=-1) / n_used[..., None] - mean**2).clamp(min=1e-12)
    penalty = ridge * n_used[..., None] * var
    penalty[..., 0] = 1e-8 * n_used
    beta = torch.linalg.solve(gram + torch.diag_embed(penalty), rhs)
    gamma = (basis.transpose(-1, -2) @ beta[..., None])[..., 0]  # back to the factors
    known_bool = known > 0
    for block in design.blocks:
        h0, count = block.first - 1, block.last - block.first + 1
        g = gamma[:, h0 : h0 + count]
        # resid = target - (seasonal * (1 + gamma_s) + gamma_a . origin), in place.
        error = torch.bmm(-g[..., :n_origin], a.transpose(-1, -2))
        seasonal = hankel(block.seasonal, season, h0 + 1, count, n)
        error.addcmul_(seasonal, -(1.0 + g[..., n_origin, None]))
        error.add_(hankel(design.target, season, h0 + 1, count, n))
        unusable = hankel(block.weight, season, h0 + 1, count, n) == 0
        error.masked_fill_(unusable | ~known_bool[:, None, :], torch.inf)
        resid[:, h0 : h0 + count] = error.cpu().numpy()
    resid.sort(axis=-1)  # unusable samples (inf) last
    samples = np.rint(gram[..., 0, 0].cpu().numpy()).astype(np.int64)  # (B, H)
    per_h = _quantiles(resid, samples)
    missing = (samples == 0).any(axis=1)  # a horizon without samples: pool them all
    if missing.any():
        flat = np.sort(resid[missing].reshape(int(missing.sum()), -1), axis=-1)
        pooled = _quantiles(flat, samples[missing].sum(axis=1))[:, None, :]
        per_h[missing] = np.where(np.isnan(per_h[missing]), pooled, per_h[missing])
    p50 = design.last[..., n_origin] + (design.last * gamma).sum(dim=-1)
    return np.asarray(p50.cpu().numpy()[..., None] + np.nan_to_num(per_h))


class Arx(QuantileModel):
    """Ridge AR-X on the last values, the value a day back, weather and time of day.

    Args:
        ridge: penalty on standardised coefficients.
        chunk: windows per tensor call (a few: the (H, N) arrays of a call stay in cache).
        max_fill_steps: gaps up to this many steps are interpolated in the inputs.
        device: torch device.
    """

    kind = "arx"

    def __init__(
        self, ridge: float = 0.1, chunk: int = 8, max_fill_steps: int = 4, device: str = "cpu"
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
        # normalised per series, which keeps the Gram matrices well scaled.
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
                torch.tensor((y - center) / scale, dtype=torch.float64, device=device),
                torch.tensor((exog - exog_center) / exog_scale, dtype=torch.float64, device=device),
                torch.tensor(batch.last_ts_ms, dtype=torch.float64, device=device),
                batch.step_ms,
                batch.horizon,
            )
            normalised = _ridge(design, self.ridge)
        return normalised * scale[..., None] + center[..., None]
