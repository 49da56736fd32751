"""Online conformal calibration: each issue's band moved by what recent outcomes call for.

A model's band is calibrated once, on validation windows. When the regime changes (a
windier season, a new load pattern) its coverage drifts. The adaptive band keeps it: for
every issue time and level, the errors ``(outcome - quantile) / scale`` of the forecasts
of the last ``pool_ms`` whose outcomes were all known by then give the shift that makes
the level cover its share (split-conformal, as a model's own calibration, on a rolling
pool), and the issue's level is moved by it times the window's scale. The median stays
as it is (no level crosses it) and no outcome from the issue's future is used, so the
procedure is what an operator can run every day on the forecasts it has stored.

Steps whose outcome is NaN in ``actual`` are left out of the pools (PV's dark steps,
where a 0 inside a band of zeros says nothing about the daylight band).
"""

import numpy as np

from gridbrain.processors.forecast.base import sort_levels
from gridbrain.processors.forecast.batch import LEVELS, P50

__all__ = ["adaptive_band", "outcome_known_ms"]


def outcome_known_ms(last_ts_ms: np.ndarray, horizon: int, step_ms: int) -> np.ndarray:
    """When each window's last target is observed: its newest step plus the horizon.

    A window whose newest step starts at ``t`` is issued once that step is complete; its
    last target step starts at ``t + horizon * step``, complete a step later. Comparing
    ``known`` with the *newest step start* of a later window (as :func:`adaptive_band`
    does) therefore takes ``t + horizon * step``.
    """
    return np.asarray(last_ts_ms, dtype=np.int64) + horizon * step_ms


def adaptive_band(
    quantiles: np.ndarray,
    actual: np.ndarray,
    last_ts_ms: np.ndarray,
    known_ms: np.ndarray,
    pool_ms: int,
    first: int = 0,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """Quantiles (N, H, Q) of windows ``first`` onward, their levels moved online.

    Args:
        quantiles: calibrated forecasts of one series, (N, H, Q), earlier windows first
            (windows before ``first`` only feed the pools: e.g. the validation ones).
        actual: the outcomes (N, H), NaN where unknown or not to be counted.
        last_ts_ms: each window's newest step (its issue time).
        known_ms: when each window's outcome is complete (:func:`outcome_known_ms`).
        pool_ms: how far back a pool reaches from the issue time.
        first: the index of the first window to adapt.
        scale: each window's scale (N,), the unit of the errors (default 1): the history's
            standard deviation makes a shift learnt on calm days small on calm days.

    Returns:
        The adapted quantiles of windows ``first:`` (N - first, H, Q); a level whose pool
        holds fewer than 20 known outcomes is not moved.

    >>> from statistics import NormalDist
    >>> from gridbrain.processors.forecast.batch import LEVELS, P90
    >>> band = np.array([NormalDist().inv_cdf(p) for p in LEVELS])  # N(0, 1) quantiles
    >>> q = np.tile(band, (60, 4, 1))
    >>> actual = np.random.default_rng(1).normal(0, 3, (60, 4))  # three times as wide
    >>> ts = np.arange(60) * 10
    >>> out = adaptive_band(q, actual, ts, ts + 10, pool_ms=300, first=40)
    >>> out.shape, bool(2 < out[-1, 0, P90] / band[P90] < 4)
    ((20, 4, 11), True)
    """
    out = np.array(quantiles[first:], dtype=np.float64, copy=True)
    issues = np.asarray(last_ts_ms[first:])
    scale = np.ones(len(quantiles)) if scale is None else np.asarray(scale, dtype=np.float64)
    error = (actual[..., None] - quantiles) / scale[:, None, None]  # (N, H, Q)
    for issued in np.unique(issues):
        pool = (known_ms <= issued) & (known_ms > issued - pool_ms)
        at = issues == issued
        shifts = np.zeros(quantiles.shape[-1])
        for q, level in enumerate(LEVELS):
            values = error[pool, :, q]
            values = values[np.isfinite(values)]
            if q != P50 and len(values) >= 20:
                shifts[q] = np.quantile(values, level)
        moved = out[at] + shifts * scale[first:][at, None, None]
        median = out[at][..., P50 : P50 + 1]  # levels do not cross it: it stays as it was
        moved[..., :P50] = np.minimum(moved[..., :P50], median)
        moved[..., P50 + 1 :] = np.maximum(moved[..., P50 + 1 :], median)
        out[at] = sort_levels(moved)
    return out
