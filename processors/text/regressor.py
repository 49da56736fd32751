"""The direct text model: ``BertForSequenceClassification(num_labels=1)`` regressing load.

The original design fine-tuned a BERT classifier with one output on the weather text of
each hour against the load. Here the classifier (MiniLM, with its pooler, from the wheel)
scores the text of each target step and place; the scores, weighted per place, add to a
linear model of the window's normalised history (RLinear) and of the step's numeric
covariates (calendar, sun, weather; :func:`~processors.forecast.neural.covariates`). All of
it is fitted together by the mean squared error in each window's own scale, with early
stopping on the validation windows. Quantiles come from :class:`QuantileModel`'s residual
calibration around the point forecast.

It reads windows that carry text (:attr:`WindowBatch.text`) of as many places as it was
built for; a window without is refused with :class:`~gridbrain.errors.ModelError`, so the
stream falls back to a built-in model.
"""

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.base import Progress, QuantileModel
from gridbrain.processors.forecast.batch import LEVELS, WindowBatch, fill_history, window_scale
from gridbrain.processors.forecast.linear import CovariateHead
from gridbrain.processors.forecast.neural import covariates, exog_statistics
from gridbrain.processors.text.encoder import model_path
from gridbrain.processors.text.finetune import freeze_lower

__all__ = ["DirectTrainConfig", "TextRegressor"]


@dataclass(frozen=True)
class DirectTrainConfig:
    """How the direct model is trained.

    Attributes:
        epochs: at most this many passes over the training windows.
        batch_size: windows per gradient step.
        encoder_lr: AdamW rate of the transformer's trainable layers.
        head_lr: AdamW rate of the classifier head, place weights and the linear parts.
        patience: stop after this many epochs without a better validation loss.
        seed: seeds the new weights and the order of the windows.
    """

    epochs: int = 3
    batch_size: int = 32
    encoder_lr: float = 3e-5
    head_lr: float = 3e-3
    patience: int = 2
    seed: int = 0


class _DirectNet(nn.Module):
    def __init__(
        self, bert_config: Any, lookback: int, horizon: int, n_covariates: int, places: int
    ) -> None:
        from transformers import BertForSequenceClassification

        super().__init__()
        self.history = nn.Linear(lookback, horizon)
        self.covariates = CovariateHead(n_covariates, horizon, 1)
        self.text = BertForSequenceClassification(bert_config)
        self.place_weight = nn.Parameter(torch.full((places,), 1.0 / places))

    def forward(
        self,
        history: torch.Tensor,
        cov: torch.Tensor,
        tokens: dict[str, torch.Tensor],
        index: torch.Tensor,
    ) -> torch.Tensor:
        """Normalised point forecast (B, H); ``index`` (B, H, C) picks rows of ``tokens``."""
        base = self.history(history) + self.covariates(cov)[..., 0]
        score = self.text(**tokens).logits[:, 0]  # one per distinct text
        return base + (score[index] * self.place_weight).sum(dim=-1)


class _Inputs(NamedTuple):
    """A batch as the network reads it, and each window's mean and scale (B, 1)."""

    history: torch.Tensor
    cov: torch.Tensor
    tokens: dict[str, torch.Tensor]
    text_at: torch.Tensor  # (B, H, C): rows of ``tokens``
    mean: np.ndarray
    scale: np.ndarray


class TextRegressor(QuantileModel):
    """MiniLM's sequence regressor on each step's weather text, plus a linear model.

    Args:
        lookback: history steps L.
        horizon: steps ahead H.
        n_exog: numeric weather variables in the windows.
        places: texts per target step (one per city, say).
        frozen_layers: lower transformer layers (and embeddings) kept as pretrained.
        max_length: tokens kept per text.
        train: :class:`DirectTrainConfig` fields.
    """

    kind = "text_regressor"
    reads_text = True

    def __init__(
        self,
        lookback: int,
        horizon: int,
        n_exog: int = 0,
        places: int = 1,
        frozen_layers: int = 3,
        max_length: int = 32,
        train: dict[str, Any] | None = None,
    ) -> None:
        from transformers import AutoConfig, AutoTokenizer

        super().__init__()
        self.lookback, self.horizon, self.n_exog, self.places = lookback, horizon, n_exog, places
        self.frozen_layers, self.max_length = frozen_layers, max_length
        self.train_config = DirectTrainConfig(**(train or {}))
        path = model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        bert_config = AutoConfig.from_pretrained(path, num_labels=1, local_files_only=True)
        torch.manual_seed(self.train_config.seed)
        self.net = _DirectNet(bert_config, lookback, horizon, 5 + 2 * n_exog, places)
        self.exog_mean, self.exog_std = np.zeros(n_exog), np.ones(n_exog)
        self.device = "cpu"

    @override
    def config(self) -> dict[str, Any]:
        return {
            "lookback": self.lookback,
            "horizon": self.horizon,
            "n_exog": self.n_exog,
            "places": self.places,
            "frozen_layers": self.frozen_layers,
            "max_length": self.max_length,
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

    def to(self, device: str) -> "TextRegressor":
        """Move the network to a torch device."""
        self.device = device
        self.net.to(device)
        return self

    # -- inputs ------------------------------------------------------------------------
    def _inputs(self, batch: WindowBatch) -> _Inputs:
        """The network's inputs, and each window's mean and scale."""
        if batch.text is None or batch.text.shape[2:] != (self.places,):
            raise ModelError(
                f"{self.kind} needs the weather text of {self.places} place(s) per target step"
            )
        if batch.horizon != self.horizon:
            raise ModelError(f"{self.kind} forecasts {self.horizon} steps, not {batch.horizon}")
        y = fill_history(batch.y[:, -self.lookback :])
        mean, scale = window_scale(y)
        history = torch.tensor((y - mean) / scale, dtype=torch.float32, device=self.device)
        cov = covariates(batch, self.exog_mean, self.exog_std)
        texts = batch.text[:, : self.horizon].astype(str)
        distinct, inverse = np.unique(texts, return_inverse=True)
        tokens = self.tokenizer(
            list(distinct),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        index = torch.as_tensor(inverse.reshape(texts.shape), device=self.device)
        cov_t = torch.tensor(cov, dtype=torch.float32, device=self.device)
        return _Inputs(history, cov_t, dict(tokens), index, mean, scale)

    @override
    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        parts = []
        self.net.eval()
        with torch.inference_mode():
            for start in range(0, len(batch), 256):
                inputs = self._inputs(batch.take(slice(start, start + 256)))
                out = self.net(*inputs[:4]).float().cpu().numpy()
                parts.append(out * inputs.scale + inputs.mean)
        if not parts:
            return np.empty((0, self.horizon, len(LEVELS)))
        return np.repeat(np.concatenate(parts)[..., None], len(LEVELS), axis=-1)

    # -- training ----------------------------------------------------------------------
    def _loss(self, batch: WindowBatch, target: np.ndarray) -> torch.Tensor:
        inputs = self._inputs(batch)
        goal = (target - inputs.mean) / inputs.scale
        goal_t = torch.tensor(goal, dtype=torch.float32, device=self.device)
        known = torch.isfinite(goal_t)
        out = self.net(*inputs[:4])
        return ((out - torch.nan_to_num(goal_t))[known] ** 2).mean()

    def _validation_loss(self, batch: WindowBatch, target: np.ndarray) -> float:
        self.net.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(batch), 256):
                part = slice(start, start + 256)
                n = len(batch.y[part])
                total += float(self._loss(batch.take(part), target[part])) * n
                count += n
        return total / max(count, 1)

    def _start(self, batch: WindowBatch) -> torch.optim.Optimizer:
        """Weather statistics, pretrained weights, frozen layers; the optimiser."""
        from transformers import BertForSequenceClassification
        from transformers.utils import logging

        if self.n_exog:
            self.exog_mean, self.exog_std = exog_statistics(batch)
        torch.manual_seed(self.train_config.seed)
        verbosity = logging.get_verbosity()
        logging.set_verbosity_error()  # not the report of the new (classifier) weights
        logging.disable_progress_bar()
        try:
            pretrained = BertForSequenceClassification.from_pretrained(
                model_path(), num_labels=1, local_files_only=True
            )
        finally:
            logging.set_verbosity(verbosity)
        self.net.text.load_state_dict(pretrained.state_dict())
        self.net.to(self.device)
        freeze_lower(self.net.text.bert, self.frozen_layers)
        encoder = [p for p in self.net.text.bert.parameters() if p.requires_grad]
        others = [p for n, p in self.net.named_parameters() if not n.startswith("text.bert.")]
        rates = self.train_config
        groups = [
            {"params": encoder, "lr": rates.encoder_lr},
            {"params": others, "lr": rates.head_lr},
        ]
        return torch.optim.AdamW(groups, weight_decay=0.0)

    @override
    def fit_parameters(
        self,
        train: tuple[WindowBatch, np.ndarray],
        val: tuple[WindowBatch, np.ndarray],
        progress: Progress | None = None,
    ) -> None:
        """Train with early stopping; keep the weights of the best validation epoch."""
        batch, target = train
        optimiser = self._start(batch)
        config = self.train_config
        generator = torch.Generator().manual_seed(config.seed)
        best, best_state, waited = float("inf"), self._state_copy(), 0
        for epoch in range(config.epochs):
            self.net.train()
            losses = []
            order = torch.randperm(len(batch), generator=generator).numpy()
            for start in range(0, len(order), config.batch_size):
                rows = order[start : start + config.batch_size]
                optimiser.zero_grad()
                loss = self._loss(batch.take(rows), target[rows])
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
        self.net.load_state_dict(best_state)

    def _state_copy(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}
