"""The model interface: fit, predict quantiles for a batch of windows, save, load.

Every model predicts the quantiles :data:`~processors.forecast.batch.LEVELS` of each
target step. After its own fit, a model is *calibrated* on validation windows: for every
horizon step and level it learns the shift (in units of each window's own scale) that
makes the level's empirical coverage right, a split-conformal correction of the raw
quantiles. Serving and back-testing call :meth:`QuantileModel.forecast`, which applies the
calibration and sorts the quantiles.
"""

import importlib
import io
import math
import pickle
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from gridbrain.errors import ModelError
from gridbrain.processors.forecast.batch import LEVELS, WindowBatch, sun_down, window_scale

__all__ = [
    "MODEL_KINDS",
    "Progress",
    "QuantileModel",
    "clip_quantiles",
    "load_model",
    "physical_bounds",
    "physical_quantiles",
    "sort_levels",
]

#: Called with (epoch, train loss, validation loss) after each training epoch.
Progress = Callable[[int, float, float], None]

MODEL_KINDS: dict[str, type["QuantileModel"]] = {}
#: The module that defines each kind (imported when an artifact of that kind is loaded).
_KIND_MODULES = {
    "persistence": "gridbrain.processors.forecast.baselines",
    "seasonal_naive": "gridbrain.processors.forecast.baselines",
    "arx": "gridbrain.processors.forecast.arx",
    "linear": "gridbrain.processors.forecast.linear",
    "patchtst": "gridbrain.processors.forecast.patchtst",
    "text_regressor": "gridbrain.processors.text.regressor",
    "lightgbm": "gridbrain.processors.forecast.gbm",
    "ensemble": "gridbrain.processors.forecast.ensemble",
}


class QuantileModel(ABC):
    """A multi-horizon quantile forecaster.

    Subclasses implement :meth:`predict_raw` and, where they learn parameters,
    :meth:`fit_parameters`, :meth:`parameters_state` and :meth:`load_parameters_state`.
    """

    kind: ClassVar[str]
    #: Whether the model reads the weather text of the target steps (``WindowBatch.text``).
    reads_text: ClassVar[bool] = False
    #: History (steps) the model needs; windows may be longer (the newest steps are used).
    lookback: int = 1

    def __init__(self) -> None:
        self.shifts: np.ndarray | None = None  # (H, Q) calibration, window-scale units

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            MODEL_KINDS[cls.kind] = cls

    @property
    def name(self) -> str:
        """The name forecasts record (the kind, plus a variant where there is one)."""
        return self.kind

    # -- what subclasses provide -------------------------------------------------------
    @abstractmethod
    def predict_raw(self, batch: WindowBatch) -> np.ndarray:
        """Uncalibrated quantiles (B, H, len(LEVELS)) in the series' units."""

    def fit_parameters(  # noqa: B027 (a hook: models without parameters need nothing)
        self,
        train: tuple[WindowBatch, np.ndarray],
        val: tuple[WindowBatch, np.ndarray],
        progress: Progress | None = None,
    ) -> None:
        """Learn the model's parameters (models without any need nothing)."""

    def config(self) -> dict[str, Any]:
        """The constructor arguments (saved with the model)."""
        return {}

    def parameters_state(self) -> dict[str, Any]:
        """Learnt parameters as tensors (saved with the model)."""
        return {}

    def load_parameters_state(self, state: dict[str, Any]) -> None:  # noqa: B027 (a hook)
        """Restore :meth:`parameters_state`."""

    def to(self, device: str) -> "QuantileModel":
        """Move the model to a torch device (models without tensors stay as they are)."""
        return self

    # -- shared behaviour --------------------------------------------------------------
    def fit(
        self,
        train: tuple[WindowBatch, np.ndarray],
        val: tuple[WindowBatch, np.ndarray],
        progress: Progress | None = None,
    ) -> "QuantileModel":
        """Fit on training windows and targets (B, H), then calibrate on validation ones."""
        self.fit_parameters(train, val, progress)
        self.calibrate(*val)
        return self

    def calibrate(self, batch: WindowBatch, target: np.ndarray) -> None:
        """Learn per-(horizon, level) shifts so that each level covers its share of ``target``.

        A horizon with fewer than 20 validation errors takes the shift of every horizon's
        errors pooled (a narrow band is not drawn from too few windows); with fewer than
        20 of those too, the raw quantiles stay as they are.
        """
        raw = self.predict_raw(batch)
        _, scale = window_scale(batch.y)
        error = (target[..., None] - raw) / scale[..., None]  # (B, H, Q)
        shifts = np.zeros(raw.shape[1:])
        usable = np.isfinite(error)
        for q, level in enumerate(LEVELS):
            pooled = error[..., q][usable[..., q]]
            fallback = np.quantile(pooled, level) if len(pooled) >= 20 else 0.0
            for h in range(raw.shape[1]):
                values = error[usable[:, h, q], h, q]
                shifts[h, q] = np.quantile(values, level) if len(values) >= 20 else fallback
        self.shifts = shifts

    def forecast(self, batch: WindowBatch) -> np.ndarray:
        """Calibrated, sorted quantiles (B, H, len(LEVELS))."""
        if batch.lookback < self.lookback:
            raise ModelError(
                f"{self.kind} needs {self.lookback} steps of history, got {batch.lookback}"
            )
        raw = self.predict_raw(batch)
        if self.shifts is not None:
            _, scale = window_scale(batch.y)
            raw = raw + self.shifts[None, : raw.shape[1]] * scale[..., None]
        return sort_levels(raw)

    def to_bytes(self) -> bytes:
        """The model as bytes (kind, configuration, parameters, calibration)."""
        buffer = io.BytesIO()
        torch.save(
            {
                "kind": self.kind,
                "config": self.config(),
                "state": self.parameters_state(),
                "shifts": None if self.shifts is None else torch.from_numpy(self.shifts),
            },
            buffer,
        )
        return buffer.getvalue()


def load_model(artifact: bytes) -> QuantileModel:
    """A model from :meth:`QuantileModel.to_bytes`.

    Raises:
        ModelError: the artifact is not a model this version knows.
    """
    try:
        saved = torch.load(io.BytesIO(artifact), weights_only=True)
        if saved["kind"] not in MODEL_KINDS and saved["kind"] in _KIND_MODULES:
            importlib.import_module(_KIND_MODULES[saved["kind"]])
        model = MODEL_KINDS[saved["kind"]](**saved["config"])
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, RuntimeError, EOFError) as exc:
        raise ModelError(f"not a model artifact: {exc}") from exc
    model.load_parameters_state(saved["state"])
    if saved["shifts"] is not None:
        model.shifts = saved["shifts"].numpy()
    return model


def sort_levels(quantiles: np.ndarray) -> np.ndarray:
    """``np.sort(quantiles, axis=-1)``, sorting only the rows that are not in order yet.

    >>> sort_levels(np.array([[1.0, 2.0], [3.0, np.nan], [2.0, 1.0]])).tolist()
    [[1.0, 2.0], [3.0, nan], [1.0, 2.0]]
    """
    out = np.array(quantiles)
    disordered = ~(np.diff(out, axis=-1) >= 0).all(axis=-1)
    if disordered.any():
        out[disordered] = np.sort(out[disordered], axis=-1)
    return out


def physical_bounds(quantity: str, capacity: float | None = None) -> tuple[float, float]:
    """Lower and upper bound of a quantity's forecasts (infinite: none).

    >>> physical_bounds("pv_power", 10.0), physical_bounds("load")
    ((0.0, 10.0), (-inf, inf))
    """
    if quantity in ("pv_power", "wind_power"):
        return 0.0, math.inf if capacity is None else capacity
    if quantity in ("pm25", "pm10", "o3", "no2", "co", "so2", "dissolved_oxygen"):
        return 0.0, math.inf
    return -math.inf, math.inf


def clip_quantiles(
    quantiles: np.ndarray, quantity: str, capacity: float | None = None
) -> np.ndarray:
    """Keep quantiles physical: PV and wind power in [0, capacity], concentrations >= 0.

    >>> clip_quantiles(np.array([[-1.0, 5.0, 12.0]]), "pv_power", 10.0).tolist()
    [[0.0, 5.0, 10.0]]
    """
    return np.clip(quantiles, *physical_bounds(quantity, capacity))


def physical_quantiles(
    quantiles: np.ndarray, batch: WindowBatch, quantity: str, capacity: float | None = None
) -> np.ndarray:
    """:func:`clip_quantiles`, and PV power 0 at target steps the sun never lights.

    A step counts as dark when the sun is below the horizon at its start and its end
    (where the site's location is known).
    """
    out = clip_quantiles(quantiles, quantity, capacity)
    if quantity == "pv_power":
        out[sun_down(batch)] = 0.0
    return out
