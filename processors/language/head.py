"""The intent head: multinomial logistic regression on [embedding, cues], trained at load.

Trained on the phrasings' variants (:mod:`augment`) in well under a second; its weights
are small (intents x (384 + cues)) and cached with a key of everything they depend on.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["IntentHead"]


@dataclass
class IntentHead:
    """Softmax over intents of a linear map of the features."""

    labels: list[str]
    weight: np.ndarray  # (intents, features)
    bias: np.ndarray  # (intents,)

    @classmethod
    def fit(
        cls, features: np.ndarray, labels: list[str], l2: float = 1e-3, seed: int = 0
    ) -> "IntentHead":
        """Fit on rows of ``features`` labelled ``labels`` (full-batch L-BFGS)."""
        names = sorted(set(labels))
        index = {n: i for i, n in enumerate(names)}
        torch.manual_seed(seed)
        x = torch.tensor(features, dtype=torch.float32)
        y = torch.tensor([index[label] for label in labels])
        w = torch.zeros(len(names), x.shape[1], requires_grad=True)
        b = torch.zeros(len(names), requires_grad=True)
        optimiser = torch.optim.LBFGS([w, b], lr=1.0, max_iter=300, line_search_fn="strong_wolfe")

        def loss() -> torch.Tensor:
            optimiser.zero_grad()
            value = torch.nn.functional.cross_entropy(x @ w.T + b, y) + l2 * (w * w).sum()
            value.backward()
            return value

        optimiser.step(loss)
        return cls(names, w.detach().numpy(), b.detach().numpy())

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(intent | features), rows summing to 1."""
        logits = features @ self.weight.T + self.bias
        logits -= logits.max(axis=-1, keepdims=True)
        odds = np.exp(logits)
        return np.asarray(odds / odds.sum(axis=-1, keepdims=True))

    def save(self, path: Path, index: np.ndarray) -> None:
        """Write the head and the phrasings' embeddings ``index`` to ``path`` (.npz)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp.npz")
        np.savez(partial, labels=np.array(self.labels), weight=self.weight, bias=self.bias,
                 index=index)  # fmt: skip
        partial.replace(path)  # whole or not at all: another process may be reading it

    @classmethod
    def load(cls, path: Path) -> tuple["IntentHead", np.ndarray]:
        """Read a head and its index written by :meth:`save`."""
        with np.load(path) as data:
            head = cls([str(s) for s in data["labels"]], data["weight"], data["bias"])
            return head, data["index"]


def cache_key(*parts: str) -> str:
    """A short digest of what a cached head depends on."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]
