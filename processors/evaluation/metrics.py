"""Point and probabilistic forecast metrics over windows (N, H) and quantiles (N, H, Q).

CRPS is approximated from the quantiles: twice the mean pinball loss over the levels
(the quantile decomposition of the CRPS, exact as the levels become dense).
"""

import numpy as np

from gridbrain.processors.forecast.batch import LEVELS, P10, P50, P90

__all__ = ["forecast_metrics", "pinball", "reliability", "skill"]


def pinball(quantiles: np.ndarray, actual: np.ndarray, levels: tuple[float, ...] = LEVELS) -> float:
    """Mean pinball loss over every window, step and level (NaN actuals ignored)."""
    error = actual[..., None] - quantiles
    q = np.asarray(levels)
    loss = np.maximum(q * error, (q - 1) * error)
    return float(np.nanmean(loss))


def reliability(quantiles: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Observed share of actuals at or below each quantile level, shape (Q,)."""
    known = np.isfinite(actual)
    below = actual[known][:, None] <= quantiles[known]
    return np.asarray(below.mean(axis=0), dtype=np.float64)


def forecast_metrics(
    quantiles: np.ndarray,
    actual: np.ndarray,
    mase_scale: float,
    capacity: float | None = None,
    covered: np.ndarray | None = None,
) -> dict[str, float]:
    """MAE, RMSE, nMAE, MASE, pinball, CRPS and p10-p90 coverage of p50 forecasts.

    Args:
        quantiles: forecasts (N, H, Q) at :data:`LEVELS`.
        actual: observations (N, H), NaN where missing.
        mase_scale: in-sample MAE of the one-day seasonal naive (the MASE denominator).
        capacity: normalises nMAE for PV and wind; otherwise the mean actual does.
        covered: the steps (N, H) coverage is counted on (PV: daylight; a dark step's 0
            inside a band of zeros says nothing); default every step.

    >>> q = np.repeat(np.array([[[1.0]]]), len(LEVELS), axis=-1)
    >>> m = forecast_metrics(q, np.array([[2.0]]), mase_scale=2.0, capacity=10.0)
    >>> m["mae"], m["nmae"], m["mase"], m["coverage_80"]
    (1.0, 0.1, 0.5, 0.0)
    """
    known = np.isfinite(actual)
    error = quantiles[..., P50][known] - actual[known]
    mae = float(np.mean(np.abs(error)))
    denominator = capacity if capacity else float(np.mean(np.abs(actual[known])))
    counted = known if covered is None else known & covered
    inside = (actual[counted] >= quantiles[..., P10][counted]) & (
        actual[counted] <= quantiles[..., P90][counted]
    )
    loss = pinball(quantiles, actual)
    return {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(error**2))),
        "nmae": mae / denominator if denominator else float("nan"),
        "mase": mae / mase_scale if mase_scale else float("nan"),
        "pinball": loss,
        "crps": 2 * loss,
        "coverage_80": float(np.mean(inside)),
        "windows": len(actual),
    }


def skill(model: float, reference: float) -> float:
    """Skill score 1 - model / reference (positive: better than the reference).

    >>> skill(0.8, 1.0)
    0.19999999999999996
    """
    return 1.0 - model / reference if reference else float("nan")
