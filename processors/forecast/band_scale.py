"""Calibration by band scaling: each level's distance from the median times a factor.

Two stages, both fitted on validation windows with the pinball loss: a factor per horizon
step and level (errors grow with the lead time), then one per hour of the day of the
target step and level, a regime (a load's evening ramp is harder to forecast than its
night, PV's dawn easier than its noon; the site's local hour where its calendar is known).
The median never moves, so the levels keep their order around it.
"""

from dataclasses import dataclass

import numpy as np
import torch

from gridbrain.processors.forecast.batch import LEVELS, P50, WindowBatch
from gridbrain.processors.forecast.local_calendar import local_features

__all__ = [
    "BAND_FACTORS",
    "BandScale",
    "band_factor",
    "band_factors",
    "hour_factors",
    "scale_band",
    "target_hours",
]

#: Band factors tried by :func:`band_factor`.
BAND_FACTORS = np.geomspace(0.2, 5.0, 97)
#: Known outcomes a step or an hour needs for factors of its own.
MIN_OUTCOMES = 20
_HOUR_MS = 3_600_000


def band_factor(distance: np.ndarray, error: np.ndarray, level: float) -> float:
    """The factor on a level's distances from the median with the least pinball loss.

    ``error`` is the outcome minus the median: the quantile ``median + f * distance``
    is scored against it at ``level``, for every f of :data:`BAND_FACTORS` (1 with fewer
    than 20 samples). The minimiser also gives the level about its share of outcomes.

    >>> rng = np.random.default_rng(0)
    >>> round(band_factor(np.full(4000, -1.0), rng.normal(0, 2, 4000), 0.16), 1)
    2.0
    """
    if len(error) < MIN_OUTCOMES:
        return 1.0
    gap = error[None, :] - BAND_FACTORS[:, None] * distance[None, :]
    loss = np.maximum(level * gap, (level - 1) * gap).mean(axis=1)
    return float(BAND_FACTORS[int(np.argmin(loss))])


def _group_factors(
    raw: np.ndarray, target: np.ndarray, group: np.ndarray, groups: int, pooled: bool
) -> np.ndarray:
    """Factors (groups, Q) of the elements (B, H) of each group; too few: pooled or 1."""
    median = raw[..., P50]
    error = target - median
    known = np.isfinite(error)
    factors = np.ones((groups, raw.shape[-1]))
    for q, level in enumerate(LEVELS):
        if q == P50:
            continue
        distance = raw[..., q] - median
        fallback = band_factor(distance[known], error[known], level) if pooled else 1.0
        for g in range(groups):
            k = known & (group == g)
            enough = k.sum() >= MIN_OUTCOMES
            factors[g, q] = band_factor(distance[k], error[k], level) if enough else fallback
    return factors


def band_factors(raw: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per horizon step and level (H, Q), the :func:`band_factor` of raw quantiles (B, H, Q).

    A step with fewer than 20 known outcomes (PV's dark steps are unknown) takes the
    factors of every step pooled. The median's factor is 1.
    """
    steps = np.broadcast_to(np.arange(raw.shape[1]), raw.shape[:2])
    return _group_factors(raw, target, steps, raw.shape[1], pooled=True)


def hour_factors(raw: np.ndarray, target: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Per hour of the day and level (24, Q): the band's regime by the hours (B, H) of its steps.

    An hour with fewer than 20 known outcomes keeps its band (factor 1).
    """
    return _group_factors(raw, target, hours, 24, pooled=False)


def scale_band(quantiles: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``quantiles`` (B, H, Q) with each level's distance from the median times its factor.

    ``factors`` broadcast against them: per level (Q,), per step (H, Q) or per element.
    """
    median = quantiles[..., P50 : P50 + 1]
    return median + (quantiles - median) * factors


def target_hours(batch: WindowBatch) -> np.ndarray:
    """Hour of the day (0-23) of every target step (B, H): local where the calendar is known."""
    target = batch.target_ts_ms()
    local = local_features(target, batch.calendar)[..., 0]
    utc = (target % (24 * _HOUR_MS)) // _HOUR_MS
    return np.where(np.isfinite(local), np.floor(np.nan_to_num(local)), utc).astype(np.int64)


@dataclass
class BandScale:
    """A model's band calibration: factors per step (H, Q) and per hour of the day (24, Q).

    Models saved before the hourly stage have a factor per level only; they load with
    hourly factors of 1.
    """

    step: np.ndarray
    hour: np.ndarray

    @classmethod
    def identity(cls) -> "BandScale":
        """No scaling."""
        return cls(np.ones(len(LEVELS)), np.ones((24, len(LEVELS))))

    @classmethod
    def fit(cls, raw: np.ndarray, target: np.ndarray, hours: np.ndarray) -> "BandScale":
        """Step factors, then hour factors on the step-scaled band (validation windows)."""
        step = band_factors(raw, target)
        return cls(step, hour_factors(scale_band(raw, step), target, hours))

    def apply(self, raw: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """The scaled quantiles (B, H, Q) of raw ones at target hours (B, H)."""
        return scale_band(scale_band(raw, self.step), self.hour[hours])

    def state(self) -> dict[str, torch.Tensor]:
        """For a model's saved parameters."""
        return {
            "band_scale": torch.from_numpy(np.ascontiguousarray(self.step)),
            "hour_scale": torch.from_numpy(np.ascontiguousarray(self.hour)),
        }

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> "BandScale":
        """From :meth:`state` (or an older model's ``band_scale`` alone)."""
        hour = state.get("hour_scale")
        return cls(
            state["band_scale"].numpy(),
            np.ones((24, len(LEVELS))) if hour is None else hour.numpy(),
        )
