"""PatchTST (Nie et al., 2023) from Hugging Face ``transformers``, built from a config.

The encoder is ``transformers.PatchTSTModel`` (channel-independent patches of the
normalised history, no pretrained weights: nothing is downloaded); a flatten head maps
its patch embeddings to every horizon step and quantile level, and the covariates of the
target steps add their offsets as in the linear model.
"""

from typing import Any

import torch
from torch import nn
from transformers import PatchTSTConfig, PatchTSTModel
from typing_extensions import override

from gridbrain.processors.forecast.linear import CovariateHead
from gridbrain.processors.forecast.neural import NeuralModel

__all__ = ["PatchTst"]


class _PatchTstNet(nn.Module):
    def __init__(
        self,
        config: PatchTSTConfig,
        horizon: int,
        n_out: int,
        n_covariates: int,
        head_dropout: float,
    ) -> None:
        super().__init__()
        self.horizon, self.n_out = horizon, n_out
        self.encoder = PatchTSTModel(config)
        with torch.no_grad():
            probe = self.encoder(past_values=torch.zeros(1, config.context_length, 1))
        width = probe.last_hidden_state[0].numel()
        self.flatten = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(width, horizon * n_out))
        self.head = CovariateHead(n_covariates, horizon, n_out)

    def forward(self, history: torch.Tensor, covariates: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(past_values=history[..., None]).last_hidden_state  # (B,1,P,D)
        out = self.flatten(hidden.flatten(1)).reshape(len(history), self.horizon, self.n_out)
        return out + self.head(covariates)


class PatchTst(NeuralModel):
    """PatchTST encoder + quantile head (defaults: the paper's ETT settings, PatchTST/42).

    Args:
        lookback: history steps (the paper: 336 or 512).
        horizon: steps ahead.
        patch: patch length.
        stride: patch stride.
        d_model: embedding width.
        layers: encoder layers.
        heads: attention heads.
        ffn: feed-forward width.
        dropout: dropout in the encoder and the head.
        kwargs: see :class:`~processors.forecast.neural.NeuralModel`.
    """

    kind = "patchtst"

    def __init__(
        self,
        lookback: int,
        horizon: int,
        patch: int = 16,
        stride: int = 8,
        d_model: int = 16,
        layers: int = 3,
        heads: int = 4,
        ffn: int = 128,
        dropout: float = 0.3,
        **kwargs: Any,
    ) -> None:
        self.architecture: dict[str, Any] = {
            "patch": patch,
            "stride": stride,
            "d_model": d_model,
            "layers": layers,
            "heads": heads,
            "ffn": ffn,
            "dropout": dropout,
        }
        super().__init__(lookback, horizon, **kwargs)

    @override
    def config(self) -> dict[str, Any]:
        return {**super().config(), **self.architecture}

    @override
    def build_network(self) -> nn.Module:
        a = self.architecture
        config = PatchTSTConfig(
            num_input_channels=1,
            context_length=self.lookback,
            prediction_length=self.horizon,
            patch_length=a["patch"],
            patch_stride=a["stride"],
            d_model=a["d_model"],
            num_hidden_layers=a["layers"],
            num_attention_heads=a["heads"],
            ffn_dim=a["ffn"],
            ff_dropout=a["dropout"],
            positional_dropout=a["dropout"],
            scaling=None,  # the windows arrive normalised (RevIN in NeuralModel)
            do_mask_input=False,
        )
        return _PatchTstNet(config, self.horizon, self.n_outputs, self.n_covariates, a["dropout"])
