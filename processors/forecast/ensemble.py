"""An ensemble: the weighted mean of its members' quantiles, level by level, its band rescaled.

Averaging quantile functions (Vincentisation) keeps each member's shape and cancels part
of their errors. The weights are the ones on a coarse simplex grid with the least
validation MAE of the median (:func:`~processors.forecast.combination.combination_weights`),
so members that do not help drop out; the ensemble then scales its band on validation
windows per step and hour (:class:`~processors.forecast.band_scale.BandScale`), keeping
the weighted median. Members arrive fitted (:meth:`Ensemble.of`) or are fitted first
(:meth:`Ensemble.untrained`); the ensemble saves them inside its artifact.
"""

from typing import Any

import numpy as np
import torch
from typing_extensions import override

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.band_scale import BandScale, target_hours
from gridbrain.processors.forecast.base import Progress, QuantileModel, load_model
from gridbrain.processors.forecast.batch import P50, WindowBatch
from gridbrain.processors.forecast.combination import combination_weights

__all__ = ["Ensemble"]


class Ensemble(QuantileModel):
    """The level-wise weighted mean of the calibrated quantiles of ``members``.

    Args:
        size: how many members (they arrive with :meth:`of` or the saved state).
        label: what forecasts record after ``ensemble_`` (e.g. ``linear+lightgbm``).
        weights: each member's weight (sum 1); None: equal (artifacts saved before
            weights existed).
    """

    kind = "ensemble"

    def __init__(self, size: int = 0, label: str = "", weights: list[float] | None = None) -> None:
        super().__init__()
        self.size, self.label = size, label
        self.weights = list(weights) if weights is not None else [1.0 / max(size, 1)] * size
        valid = all(isinstance(w, float) and 0.0 <= w <= 1.0 for w in self.weights)
        if len(self.weights) != size or not valid or (size and abs(sum(self.weights) - 1) > 1e-6):
            raise ValueError(f"{size} ensemble members need weights in [0, 1] summing to 1")
        self.members: list[QuantileModel] = []
        self.band = BandScale.identity()
        self._fit_members = False

    @classmethod
    def of(cls, members: list[QuantileModel]) -> "Ensemble":
        """An ensemble of fitted members, equally weighted (:meth:`fit` weighs them)."""
        ensemble = cls(len(members), "+".join(m.name for m in members))
        ensemble.members = list(members)
        ensemble.lookback = max(m.lookback for m in members)
        return ensemble

    @classmethod
    def untrained(cls, members: list[QuantileModel]) -> "Ensemble":
        """An ensemble whose :meth:`fit` fits the fresh ``members`` first."""
        ensemble = cls.of(members)
        ensemble._fit_members = True
        return ensemble

    @property
    @override
    def name(self) -> str:
        return f"{self.kind}_{self.label}" if self.label else self.kind

    @override
    def config(self) -> dict[str, Any]:
        return {"size": self.size, "label": self.label, "weights": self.weights}

    @override
    def parameters_state(self) -> dict[str, Any]:
        members = {
            f"member_{i}": torch.frombuffer(bytearray(m.to_bytes()), dtype=torch.uint8)
            for i, m in enumerate(self.members)
        }
        return {**self.band.state(), **members}

    @override
    def load_parameters_state(self, state: dict[str, Any]) -> None:
        saved = [state.get(f"member_{i}") for i in range(self.size)]
        if any(member is None for member in saved):
            raise ModelError(f"an ensemble artifact without its {self.size} members")
        self.members = [load_model(bytes(member.numpy())) for member in saved if member is not None]
        self.lookback = max((m.lookback for m in self.members), default=1)
        self.band = BandScale.from_state(state)

    @override
    def to(self, device: str) -> "Ensemble":
        self.members = [m.to(device) for m in self.members]
        return self

    @override
    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        if not self.members:
            raise ModelError("an ensemble without members")
        forecasts = np.stack([m.forecast(batch) for m in self.members])
        mean = np.tensordot(np.asarray(self.weights), forecasts, axes=1)
        return self.band.apply(mean, target_hours(batch))

    @override
    def calibrate(self, batch: WindowBatch, target: np.ndarray) -> None:
        """Scale the mixture's band on ``target``; the median stays the members' weighted mean."""
        self.band = BandScale.identity()
        self.band = BandScale.fit(self.predict_raw(batch), target, target_hours(batch))

    @override
    def fit_parameters(
        self,
        train: tuple[WindowBatch, np.ndarray],
        val: tuple[WindowBatch, np.ndarray],
        progress: Progress | None = None,
    ) -> None:
        """Fit the members if they came untrained, then weigh them on ``val``.

        Members with weight 0 are dropped (they would cost time and add nothing).
        """
        if not self.members:
            raise ModelError("an ensemble is built from members (Ensemble.of or .untrained)")
        if self._fit_members:
            for member in self.members:
                member.fit(train, val, progress)
            self._fit_members = False
        batch, target = val
        medians = np.stack([m.forecast(batch)[..., P50] for m in self.members])
        weights = combination_weights(medians, target)
        keep = np.flatnonzero(weights > 0)
        self.members = [self.members[i] for i in keep]
        self.weights = [float(weights[i]) for i in keep]
        self.size, self.label = len(keep), "+".join(m.name for m in self.members)
        self.lookback = max(m.lookback for m in self.members)
