"""Fine-tuning MiniLM against load: a few text features per text for any forecaster to use.

Each sample (an hour) has one text per place (``index`` into a vocabulary of distinct
texts) and a target, e.g. the load a numeric-weather model left unexplained. The network
is MiniLM (mean-pooled, unit length), a linear projection of each text to ``features``
values, and a linear read-out of every place's features. Weather text is a closed, small
set, so a gradient step runs the encoder on the distinct texts of its samples only, once
each, whatever the number of samples. Afterwards :class:`TextFeatures` gives the projected
features of any text, unseen ones included, each distinct text computed once.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from gridbrain.errors import ModelError
from gridbrain.processors.device import resolve_device
from gridbrain.processors.text.encoder import load_encoder, mean_pool

__all__ = ["FineTuneConfig", "TextFeatureNet", "TextFeatures", "fine_tune", "freeze_lower"]

#: Called with (epoch, mean training loss of the epoch) after each epoch.
EpochProgress = Callable[[int, float], None]


class FineTuneConfig(BaseModel):
    """How the encoder is fine-tuned."""

    model_config = ConfigDict(frozen=True)

    features: int = Field(default=4, ge=1, description="Text features per text (projection).")
    epochs: int = Field(default=15, ge=1, description="Passes over the samples.")
    batch_size: int = Field(
        default=8192, ge=1, description="Samples per gradient step (distinct texts encoded once)."
    )
    encoder_lr: float = Field(default=1e-4, gt=0, description="AdamW rate of the encoder.")
    head_lr: float = Field(default=1e-2, gt=0, description="AdamW rate of projection, read-out.")
    frozen_layers: int = Field(
        default=4, ge=0, le=6, description="Lower transformer layers kept fixed (and embeddings)."
    )
    max_length: int = Field(default=32, ge=4, description="Tokens kept per text.")
    seed: int = Field(default=0, description="Seeds the head's initial weights and the order.")


def freeze_lower(encoder: Any, layers: int) -> None:
    """Keep the token embeddings and the lowest ``layers`` transformer layers as pretrained."""
    for module in [encoder.embeddings, *encoder.encoder.layer[:layers]]:
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def _layer(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One transformer layer on ``hidden`` (N, T, D), attending to the tokens ``mask`` keeps."""
    additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    out = layer(hidden, attention_mask=additive)
    return out[0] if isinstance(out, tuple) else out


class TextFeatureNet(nn.Module):
    """MiniLM -> mean pool -> unit length -> ``features`` values per text; per-place read-out.

    The token embeddings and the lowest ``frozen_layers`` layers stay as pretrained, so
    their output (:meth:`lower`) is computed once per text and training runs the rest.
    """

    def __init__(self, encoder: Any, places: int, features: int, frozen_layers: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.frozen_layers = frozen_layers
        freeze_lower(encoder, frozen_layers)
        hidden = int(encoder.config.hidden_size)
        self.project = nn.Linear(hidden, features)
        self.readout = nn.Parameter(torch.randn(places, features) / features**0.5)
        self.bias = nn.Parameter(torch.zeros(()))

    def lower(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token states (U, T, D) after the frozen layers (no gradient)."""
        with torch.no_grad():
            hidden = self.encoder.embeddings(input_ids=input_ids)
            for layer in self.encoder.encoder.layer[: self.frozen_layers]:
                hidden = _layer(layer, hidden, attention_mask)
        return hidden

    def upper(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Projected features (U, features) from the frozen layers' token states."""
        for layer in self.encoder.encoder.layer[self.frozen_layers :]:
            hidden = _layer(layer, hidden, attention_mask)
        pooled = nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)
        return self.project(pooled)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Projected features (U, features) of U tokenised texts."""
        return self.upper(self.lower(input_ids, attention_mask), attention_mask)

    def forward(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        """Prediction (N,) of samples whose places' texts are rows ``index`` (N, C).

        ``hidden`` holds the :meth:`lower` states of those U texts.
        """
        values = self.upper(hidden, attention_mask)[index]  # (N, C, features)
        return (values * self.readout).sum(dim=(1, 2)) + self.bias


class TextFeatures:
    """The fine-tuned network's text features of any text, each distinct text computed once.

    Attributes:
        initial_loss: mean squared error (standardised target) before fine-tuning.
        losses: mean training loss of each epoch.
        final_loss: mean squared error on every sample after fine-tuning.
    """

    def __init__(self, net: TextFeatureNet, tokenizer: Any, max_length: int, device: str) -> None:
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.device = device
        self.initial_loss = float("nan")
        self.final_loss = float("nan")
        self.losses: list[float] = []
        self._cache: dict[str, np.ndarray] = {}

    @property
    def width(self) -> int:
        """Features per text."""
        return int(self.net.project.out_features)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Features (N, width) of ``texts`` (float64)."""
        new = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for start in range(0, len(new), 256):
            chunk = new[start : start + 256]
            tokens = _tokens(self.tokenizer, chunk, self.max_length, self.device)
            with torch.inference_mode():
                values = self.net.features(tokens["input_ids"], tokens["attention_mask"])
            for text, row in zip(chunk, values.float().cpu().numpy(), strict=True):
                self._cache[text] = row.astype(np.float64)
        if not texts:
            return np.empty((0, self.width))
        return np.stack([self._cache[t] for t in texts])


def _tokens(tokenizer: Any, texts: Sequence[str], max_length: int, device: str) -> Any:
    return tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    ).to(device)


def _loss(
    net: TextFeatureNet,
    lower: tuple[torch.Tensor, torch.Tensor],
    index: np.ndarray,
    target: torch.Tensor,
) -> torch.Tensor:
    """Mean squared error of samples (rows of ``index`` into the texts of ``lower``)."""
    hidden, mask = lower
    used, inverse = np.unique(index, return_inverse=True)
    rows = torch.as_tensor(used, device=hidden.device)
    width = int(mask[rows].sum(dim=1).max())  # drop padding no text of the step needs
    at = torch.as_tensor(inverse.reshape(index.shape), device=hidden.device)
    prediction = net(hidden[rows, :width], mask[rows, :width], at)
    return ((prediction - target) ** 2).mean()


def fine_tune(
    vocabulary: Sequence[str],
    index: np.ndarray,
    target: np.ndarray,
    config: FineTuneConfig | None = None,
    device: str = "auto",
    progress: EpochProgress | None = None,
) -> TextFeatures:
    """Fine-tune MiniLM so that the places' text features predict ``target``.

    Args:
        vocabulary: the distinct texts.
        index: each sample's text per place, as rows of ``vocabulary``, shape (N, C).
        target: what the texts should explain (N,), standardised inside; NaN: unused.
        config: training settings (defaults: :class:`FineTuneConfig`).
        device: ``auto``, ``cpu`` or ``cuda``.
        progress: called after each epoch.

    Raises:
        ModelError: no sample has a finite target.
    """
    config = config or FineTuneConfig()
    device = resolve_device(device)
    keep = np.isfinite(target)
    if not keep.any():
        raise ModelError("fine-tuning needs at least one finite target")
    index, values = np.asarray(index, dtype=np.int64)[keep], target[keep]
    goal = torch.tensor((values - values.mean()) / max(values.std(), 1e-9), dtype=torch.float32)
    goal = goal.to(device)
    torch.manual_seed(config.seed)
    tokenizer, encoder = load_encoder()
    net = TextFeatureNet(encoder, index.shape[1], config.features, config.frozen_layers)
    net.to(device).eval()
    tokens = _tokens(tokenizer, vocabulary, config.max_length, device)
    lower = (net.lower(tokens["input_ids"], tokens["attention_mask"]), tokens["attention_mask"])
    head = [net.project.weight, net.project.bias, net.readout, net.bias]
    trainable = [p for p in net.encoder.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [{"params": trainable, "lr": config.encoder_lr}, {"params": head, "lr": config.head_lr}],
        weight_decay=0.0,
    )
    result = TextFeatures(net, tokenizer, config.max_length, device)
    with torch.no_grad():
        result.initial_loss = float(_loss(net, lower, index, goal))
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        net.train()
        order = torch.randperm(len(index), generator=generator).numpy()
        losses = []
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            optimiser.zero_grad()
            loss = _loss(net, lower, index[rows], goal[rows])
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        result.losses.append(float(np.mean(losses)))
        if progress is not None:
            progress(epoch, result.losses[-1])
    net.eval()
    with torch.no_grad():
        result.final_loss = float(_loss(net, lower, index, goal))
    return result
