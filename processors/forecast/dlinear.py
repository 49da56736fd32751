"""DLinear (Zeng et al., 2023): a moving-average trend/remainder split, one linear map each."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["DLinear", "DLinearConfig", "fit_dlinear", "predict"]


class DLinear(nn.Module):
    """Maps (B, L, C) inputs to (B, H, C) outputs, channels sharing the two linear layers."""

    def __init__(self, lookback: int, horizon: int, kernel: int = 25) -> None:
        super().__init__()
        self.kernel = kernel
        self.trend = nn.Linear(lookback, horizon)
        self.remainder = nn.Linear(lookback, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forecast ``x`` (B, L, C)."""
        series = x.transpose(1, 2)  # (B, C, L)
        pad = (self.kernel - 1) // 2
        padded = torch.cat(
            [series[..., :1].expand(-1, -1, pad), series, series[..., -1:].expand(-1, -1, pad)],
            dim=-1,
        )
        trend = padded.unfold(-1, self.kernel, 1).mean(dim=-1)
        out = self.trend(trend) + self.remainder(series - trend)
        return out.transpose(1, 2)


@dataclass(frozen=True)
class DLinearConfig:
    """Training settings (defaults: the paper's ETTh1 script)."""

    kernel: int = 25
    batch_size: int = 32
    learning_rate: float = 0.005
    epochs: int = 10
    patience: int = 3
    seed: int = 2021


def predict(model: DLinear, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Forecasts of many windows, in batches, without gradients."""
    model.eval()
    with torch.inference_mode():
        parts = [
            model(torch.from_numpy(x[i : i + batch_size])).numpy()
            for i in range(0, len(x), batch_size)
        ]
    return np.concatenate(parts)


def fit_dlinear(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    config: DLinearConfig,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> DLinear:
    """Train on (x, y) windows with MSE loss; keep the weights of the best validation epoch.

    Early stopping after ``patience`` epochs without a better validation MSE; the
    learning rate halves every epoch, as in the paper's ``type1`` schedule.
    """
    torch.manual_seed(config.seed)
    x, y = (torch.from_numpy(a) for a in train)
    model = DLinear(x.shape[1], y.shape[1], config.kernel)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed)
    best, best_state, waited = float("inf"), model.state_dict(), 0
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        losses = []
        for i in range(0, len(x), config.batch_size):
            index = order[i : i + config.batch_size]
            optimiser.zero_grad()
            loss = nn.functional.mse_loss(model(x[index]), y[index])
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        val_mse = float(np.mean((predict(model, val[0]) - val[1]) ** 2))
        if on_epoch is not None:
            on_epoch(epoch, float(np.mean(losses)), val_mse)
        if val_mse < best:
            best, waited = val_mse, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= config.patience:
                break
        for group in optimiser.param_groups:
            group["lr"] = config.learning_rate * 0.5 ** (epoch + 1)
    model.load_state_dict(best_state)
    return model
