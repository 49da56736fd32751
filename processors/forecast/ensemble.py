"""An ensemble: the mean of its members' quantiles (level by level), its band recalibrated.

Averaging quantile functions (Vincentisation) keeps each member's shape and cancels part
of their errors; the ensemble then scales its band on validation windows per step and
hour (:class:`~processors.forecast.band_scale.BandScale`), keeping the mean of the
members' medians. Members are any fitted models; the ensemble saves them inside its artifact.
"""

from typing import Any

import numpy as np
import torch
from typing_extensions import override

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.band_scale import BandScale, target_hours
from gridbrain.processors.forecast.base import Progress, QuantileModel, load_model
from gridbrain.processors.forecast.batch import WindowBatch

__all__ = ["Ensemble"]


class Ensemble(QuantileModel):
    """The level-wise mean of the calibrated quantiles of ``members``.

    Args:
        size: how many members (they arrive with :meth:`of` or the saved state).
        label: what forecasts record after ``ensemble_`` (e.g. ``linear+lightgbm``).
    """

    kind = "ensemble"

    def __init__(self, size: int = 0, label: str = "") -> None:
        super().__init__()
        self.size, self.label = size, label
        self.members: list[QuantileModel] = []
        self.band = BandScale.identity()

    @classmethod
    def of(cls, members: list[QuantileModel]) -> "Ensemble":
        """An ensemble of fitted members (calibrate it before use)."""
        ensemble = cls(len(members), "+".join(m.name for m in members))
        ensemble.members = list(members)
        ensemble.lookback = max(m.lookback for m in members)
        return ensemble

    @property
    @override
    def name(self) -> str:
        return f"{self.kind}_{self.label}" if self.label else self.kind

    @override
    def config(self) -> dict[str, Any]:
        return {"size": self.size, "label": self.label}

    @override
    def parameters_state(self) -> dict[str, Any]:
        members = {
            f"member_{i}": torch.frombuffer(bytearray(m.to_bytes()), dtype=torch.uint8)
            for i, m in enumerate(self.members)
        }
        return {**self.band.state(), **members}

    @override
    def load_parameters_state(self, state: dict[str, Any]) -> None:
        self.members = [load_model(bytes(state[f"member_{i}"].numpy())) for i in range(self.size)]
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
        mean = np.mean([m.forecast(batch) for m in self.members], axis=0)
        return self.band.apply(mean, target_hours(batch))

    @override
    def calibrate(self, batch: WindowBatch, target: np.ndarray) -> None:
        """Scale the mixture's band on ``target``; the median stays the members' mean."""
        self.band = BandScale.identity()
        self.band = BandScale.fit(self.predict_raw(batch), target, target_hours(batch))

    @override
    def fit_parameters(
        self,
        train: tuple[WindowBatch, np.ndarray],
        val: tuple[WindowBatch, np.ndarray],
        progress: Progress | None = None,
    ) -> None:
        """Members arrive fitted (:meth:`of`): nothing to learn but the calibration."""
        if not self.members:
            raise ModelError("an ensemble is built from fitted members (Ensemble.of)")
