"""A strong linear forecaster: RLinear / SparseTSF-style maps with a covariate head.

The history, normalised per window (reversible instance normalisation), goes through one
linear map to every horizon step and quantile level. With ``period`` > 1 the map is the
SparseTSF one (Lin et al., 2024): the history is smoothed, cut into the phases of the
period, and one small linear map shared by all phases forecasts each phase's next values,
which suits daily cycles with a few hundred parameters. Covariates of each target step
(calendar, sun, weather forecast) add a shared two-layer network's output.
"""

import math
from typing import Any

import torch
from torch import nn
from typing_extensions import override

from gridbrain.processors.forecast.neural import NeuralModel

__all__ = ["CovariateHead", "LinearModel"]


class CovariateHead(nn.Module):
    """Per-step quantile offsets (B, H, Q) from covariates (B, H, F), plus a per-step bias."""

    def __init__(self, n_covariates: int, horizon: int, n_out: int, hidden: int = 32) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(horizon, n_out))
        self.net = (
            nn.Sequential(nn.Linear(n_covariates, hidden), nn.GELU(), nn.Linear(hidden, n_out))
            if n_covariates
            else None
        )

    def forward(self, covariates: torch.Tensor) -> torch.Tensor:
        """Offsets for each target step."""
        out = self.bias[None]
        return out + self.net(covariates) if self.net is not None else out


class _LinearNet(nn.Module):
    def __init__(
        self, lookback: int, horizon: int, n_out: int, n_covariates: int, period: int
    ) -> None:
        super().__init__()
        self.horizon, self.n_out, self.period = horizon, n_out, max(period, 1)
        self.used = lookback // self.period * self.period  # newest steps, whole periods
        steps_out = math.ceil(horizon / self.period)
        self.smooth = (
            nn.Conv1d(1, 1, 2 * (period // 2) + 1, padding=period // 2, bias=False)
            if self.period > 1
            else None
        )
        self.map = nn.Linear(self.used // self.period, steps_out * n_out)
        self.head = CovariateHead(n_covariates, horizon, n_out)

    def forward(self, history: torch.Tensor, covariates: torch.Tensor) -> torch.Tensor:
        z = history[:, -self.used :]
        batch = len(z)
        if self.smooth is not None:
            z = z + self.smooth(z[:, None, :])[:, 0, : self.used]
            phases = z.reshape(batch, -1, self.period).transpose(1, 2)  # (B, P, L/P)
            out = self.map(phases).reshape(batch, self.period, -1, self.n_out)
            out = out.transpose(1, 2).reshape(batch, -1, self.n_out)[:, : self.horizon]
        else:
            out = self.map(z).reshape(batch, self.horizon, self.n_out)
        return out + self.head(covariates)


class LinearModel(NeuralModel):
    """RLinear (``period`` 1) or SparseTSF (``period`` = steps per cycle) with quantile heads."""

    kind = "linear"

    def __init__(self, lookback: int, horizon: int, period: int = 1, **kwargs: Any) -> None:
        self.period = period
        super().__init__(lookback, horizon, **kwargs)

    @property
    def name(self) -> str:
        """``linear`` or ``linear_p{period}``."""
        return self.kind if self.period <= 1 else f"{self.kind}_p{self.period}"

    @override
    def config(self) -> dict[str, Any]:
        return {**super().config(), "period": self.period}

    @override
    def build_network(self) -> nn.Module:
        return _LinearNet(
            self.lookback, self.horizon, self.n_outputs, self.n_covariates, self.period
        )
