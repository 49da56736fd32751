"""Global models trained by gradient descent: shared inputs, training loop, serving.

A :class:`NeuralModel` normalises each window by its own history (reversible instance
normalisation), gives its network the normalised history and the covariates of every
target step (calendar, sun, weather forecast; see :func:`covariates`), and maps the
network's normalised quantiles back. Training minimises the pinball loss over every
level (or the MSE of a single point output for point benchmarks) with early stopping on
the validation windows.
"""

import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.base import Progress, QuantileModel
from gridbrain.processors.forecast.batch import (
    LEVELS,
    WindowBatch,
    calendar_features,
    fill_history,
    window_scale,
)
from gridbrain.processors.forecast.local_calendar import local_covariates

__all__ = ["NeuralModel", "TrainConfig", "covariates", "exog_statistics", "pinball_loss"]


@dataclass(frozen=True)
class TrainConfig:
    """How a network is trained.

    Attributes:
        batch_size: windows per gradient step.
        learning_rate: Adam's initial rate; halved after each of the first three epochs,
            then multiplied by 0.9 per epoch.
        epochs: at most this many passes over the training windows.
        patience: stop after this many epochs without a better validation loss.
        seed: seeds the initial weights and the shuffling.
        objective: ``pinball`` (every quantile level) or ``mse`` (a point forecast).
        normalised_loss: compute the loss on each window's normalised values (weighs
            series of every size alike); False: in the data's units (benchmarks whose
            data is on one scale already).
    """

    batch_size: int = 128
    learning_rate: float = 0.005
    epochs: int = 30
    patience: int = 5
    seed: int = 2021
    objective: str = "pinball"
    normalised_loss: bool = True


def exog_statistics(batch: WindowBatch) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each weather variable over a batch's windows.

    A variable never observed gets mean 0 and scale 1; a constant one scale 1.
    """
    values = batch.exog.reshape(-1, batch.exog.shape[-1])
    with warnings.catch_warnings():  # all-NaN columns give NaN: set below
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nan_to_num(np.nanmean(values, axis=0))
        std = np.nan_to_num(np.nanstd(values, axis=0), nan=1.0)
    std[std < 1e-9] = 1.0
    return mean, std


def covariates(
    batch: WindowBatch, mean: np.ndarray, std: np.ndarray, local_calendar: bool = False
) -> np.ndarray:
    """Covariates of every target step (B, H, 5 + 2E [+ 6]): calendar, sun, weather, flags.

    With ``local_calendar`` the site's local calendar follows (:func:`local_covariates`).
    Weather is standardised with the training statistics ``mean``/``std`` (E,); unknown
    values are 0 with their flag set.
    """
    future = batch.exog[:, batch.lookback : batch.lookback + batch.horizon]
    missing = ~np.isfinite(future)
    weather = np.where(missing, 0.0, (future - mean) / std)
    parts = [calendar_features(batch), weather, missing]
    if local_calendar:
        parts.append(local_covariates(batch.target_ts_ms(), batch.calendar))
    return np.concatenate(parts, axis=-1)


def pinball_loss(
    prediction: torch.Tensor, target: torch.Tensor, levels: torch.Tensor
) -> torch.Tensor:
    """Mean pinball loss of quantiles (..., Q) at ``levels`` (Q,) against targets (...)."""
    error = target[..., None] - prediction
    return torch.maximum(levels * error, (levels - 1) * error).mean()


class NeuralModel(QuantileModel):
    """Wraps a network ``net(history (B, L), covariates (B, H, F)) -> (B, H, Q)``.

    Args:
        lookback: history steps L the network reads.
        horizon: steps ahead H.
        n_exog: weather variables in the windows.
        use_covariates: give the network the covariates (off for benchmarks without them).
        scale_windows: divide each window by its standard deviation after removing its
            mean (RevIN); False only removes the mean (SparseTSF), for data that is
            already on one scale.
        local_calendar: add the site's local hour, week and holidays to the covariates
            (False in models saved before they existed).
        train: training settings.
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        n_exog: int = 0,
        use_covariates: bool = True,
        scale_windows: bool = True,
        local_calendar: bool = False,
        train: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.local_calendar = local_calendar
        self.lookback = lookback
        self.horizon = horizon
        self.n_exog = n_exog
        self.use_covariates = use_covariates
        self.scale_windows = scale_windows
        self.train_config = TrainConfig(**(train or {}))
        self.n_outputs = 1 if self.train_config.objective == "mse" else len(LEVELS)
        self.exog_mean = np.zeros(n_exog)
        self.exog_std = np.ones(n_exog)
        self.device = "cpu"
        torch.manual_seed(self.train_config.seed)
        self.net = self.build_network()

    @property
    def n_covariates(self) -> int:
        """Covariates per target step the network gets (0 without covariates)."""
        if not self.use_covariates:
            return 0
        return 5 + 2 * self.n_exog + (6 if self.local_calendar else 0)

    def build_network(self) -> nn.Module:
        """The network (subclasses)."""
        raise NotImplementedError

    @override
    def config(self) -> dict[str, Any]:
        return {
            "lookback": self.lookback,
            "horizon": self.horizon,
            "n_exog": self.n_exog,
            "use_covariates": self.use_covariates,
            "scale_windows": self.scale_windows,
            "local_calendar": self.local_calendar,
            "train": asdict(self.train_config),
        }

    @override
    def parameters_state(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "exog_mean": torch.from_numpy(self.exog_mean),
            "exog_std": torch.from_numpy(self.exog_std),
        }

    @override
    def load_parameters_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.exog_mean = state["exog_mean"].numpy()
        self.exog_std = state["exog_std"].numpy()

    def to(self, device: str) -> "NeuralModel":
        """Move the network to a torch device."""
        self.device = device
        self.net.to(device)
        return self

    # -- inputs ------------------------------------------------------------------------
    def _inputs(
        self, batch: WindowBatch
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
        """Normalised history, covariates, and each window's mean and scale."""
        y = fill_history(batch.y[:, -self.lookback :])
        mean, scale = window_scale(y)
        if not self.scale_windows:
            scale = np.ones_like(scale)
        history = torch.tensor((y - mean) / scale, dtype=torch.float32, device=self.device)
        if self.use_covariates:
            cov = covariates(batch, self.exog_mean, self.exog_std, self.local_calendar)
        else:
            cov = np.zeros((len(y), batch.horizon, 0))
        return history, torch.tensor(cov, dtype=torch.float32, device=self.device), mean, scale

    def _expand(self, out: np.ndarray) -> np.ndarray:
        """A point output (B, H, 1) becomes every level; quantile outputs stay."""
        return np.repeat(out, len(LEVELS), axis=-1) if out.shape[-1] == 1 else out

    @override
    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        if batch.horizon != self.horizon:
            raise ModelError(f"{self.name} forecasts {self.horizon} steps, not {batch.horizon}")
        parts = []
        self.net.eval()
        autocast = self.device.startswith("cuda")
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=autocast):
            for start in range(0, len(batch), 4096):
                part = batch.take(slice(start, start + 4096))
                history, cov, mean, scale = self._inputs(part)
                out = self.net(history, cov).float().cpu().numpy()
                scale32, mean32 = scale.astype(np.float32), mean.astype(np.float32)
                parts.append(self._expand(out) * scale32[..., None] + mean32[..., None])
        return np.concatenate(parts) if parts else np.empty((0, batch.horizon, len(LEVELS)))

    # -- training ----------------------------------------------------------------------
    def _loss(self, batch: WindowBatch, target: np.ndarray) -> torch.Tensor:
        history, cov, mean, scale = self._inputs(batch)
        # The network works in window-scale units; the loss is taken in those units or,
        # without normalised_loss, in the data's units.
        unit = scale if self.train_config.normalised_loss else np.ones_like(scale)
        factor = torch.tensor(scale / unit, dtype=torch.float32, device=self.device)
        out = self.net(history, cov) * factor[..., None]
        goal = torch.tensor((target - mean) / unit, dtype=torch.float32, device=self.device)
        known = torch.isfinite(goal)
        if self.n_outputs == 1:
            return ((out[..., 0] - goal)[known] ** 2).mean()
        levels = torch.tensor(LEVELS, device=self.device)
        return pinball_loss(out[known], goal[known], levels)

    def _batches(self, count: int, generator: torch.Generator) -> Iterator[np.ndarray]:
        order = torch.randperm(count, generator=generator).numpy()
        size = self.train_config.batch_size
        for start in range(0, count, size):
            yield order[start : start + size]

    def _validation_loss(self, batch: WindowBatch, target: np.ndarray) -> float:
        self.net.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(batch), 2048):
                part = slice(start, start + 2048)
                n = len(batch.y[part])
                total += float(self._loss(batch.take(part), target[part])) * n
                count += n
        return total / max(count, 1)

    def fit_parameters(
        self,
        train: tuple[WindowBatch, np.ndarray],
        val: tuple[WindowBatch, np.ndarray],
        progress: Progress | None = None,
    ) -> None:
        """Train with early stopping; keep the weights of the best validation epoch."""
        batch, target = train
        if self.n_exog:
            self.exog_mean, self.exog_std = exog_statistics(batch)
        config = self.train_config
        torch.manual_seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=config.learning_rate)
        best, best_state, waited = float("inf"), self._state_copy(), 0
        for epoch in range(config.epochs):
            self.net.train()
            losses = []
            for index in self._batches(len(batch), generator):
                optimiser.zero_grad()
                loss = self._loss(batch.take(index), target[index])
                loss.backward()
                optimiser.step()
                losses.append(float(loss.detach()))
            val_loss = self._validation_loss(*val)
            if progress is not None:
                progress(epoch, float(np.mean(losses)), val_loss)
            if val_loss < best:
                best, best_state, waited = val_loss, self._state_copy(), 0
            else:
                waited += 1
                if waited >= config.patience:
                    break
            for group in optimiser.param_groups:
                group["lr"] *= 0.5 if epoch < 3 else 0.9
        self.net.load_state_dict(best_state)

    def _state_copy(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}
