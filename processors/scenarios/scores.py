"""Proper scores of scenario sets (ensembles) against what happened.

Both are negatively oriented (lower is better) and judge the joint distribution across a
day's steps, not only the marginals: the energy score (Gneiting and Raftery 2007) and the
variogram score of order 0.5 (Scheuerer and Hamill 2015), which sees errors in the
correlation between steps that the energy score barely notices.
"""

import numpy as np

__all__ = ["energy_score", "variogram_score"]


def energy_score(scenarios: np.ndarray, actual: np.ndarray) -> float:
    """ES = E||X - y|| - E||X - X'|| / 2 of scenarios (S, T) for the outcome (T,).

    >>> round(energy_score(np.array([[0.0], [2.0]]), np.array([1.0])), 6)
    0.5
    """
    scenarios = np.asarray(scenarios, dtype=np.float64)
    to_actual = np.linalg.norm(scenarios - actual[None, :], axis=1).mean()
    pairwise = np.linalg.norm(scenarios[:, None, :] - scenarios[None, :, :], axis=2).mean()
    return float(to_actual - pairwise / 2)


def variogram_score(scenarios: np.ndarray, actual: np.ndarray, order: float = 0.5) -> float:
    """VS = sum_ij (|y_i - y_j|^p - E|X_i - X_j|^p)^2 over all step pairs (unit weights).

    >>> variogram_score(np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([0.0, 1.0]))
    0.0
    """
    scenarios = np.asarray(scenarios, dtype=np.float64)
    observed = np.abs(actual[:, None] - actual[None, :]) ** order
    expected = (np.abs(scenarios[:, :, None] - scenarios[:, None, :]) ** order).mean(axis=0)
    return float(((observed - expected) ** 2).sum())
