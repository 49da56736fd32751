"""The Gaussian-copula baseline: quantile forecasts as marginals, a learnt step correlation.

Each step's marginal is the piecewise-linear quantile function through the forecast's
quantiles, its tails extended with the slope of the nearest segment (and floored at
``low``, e.g. 0 for load). The dependence between the steps of a day is a Gaussian copula
whose correlation is estimated from the normal scores ``Phi^-1(F(y))`` of historical
outcomes under their forecasts. Pure numpy and scipy.
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

__all__ = ["GaussianCopula", "quantile_function"]

_EDGE = 1e-3  # probabilities kept inside (EDGE, 1 - EDGE) before the normal quantile


def quantile_function(
    levels: np.ndarray, quantiles: np.ndarray, u: np.ndarray, low: float | None = None
) -> np.ndarray:
    """Values at probabilities ``u`` (S, T) of marginals given by ``quantiles`` (T, K).

    >>> quantile_function(np.array([0.1, 0.5, 0.9]), np.array([[1.0, 2.0, 3.0]]),
    ...                   np.array([[0.0], [0.3], [1.0]])).ravel().tolist()
    [0.75, 1.5, 3.25]
    """
    knots, values = _knots(np.asarray(levels, dtype=np.float64), np.asarray(quantiles))
    out = np.empty(np.shape(u))
    for t in range(values.shape[0]):
        out[:, t] = np.interp(u[:, t], knots, values[t])
    return out if low is None else np.maximum(out, low)


def _knots(levels: np.ndarray, quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities 0, levels, 1 and the values there (tails extended linearly)."""
    q = np.sort(quantiles, axis=1)
    first = q[:, 0] - (q[:, 1] - q[:, 0]) / (levels[1] - levels[0]) * levels[0]
    last = q[:, -1] + (q[:, -1] - q[:, -2]) / (levels[-1] - levels[-2]) * (1 - levels[-1])
    knots = np.concatenate([[0.0], levels, [1.0]])
    return knots, np.column_stack([first, q, last])


def _probabilities(levels: np.ndarray, quantiles: np.ndarray, y: np.ndarray) -> np.ndarray:
    """F(y) per step under the piecewise-linear marginals (T,)."""
    knots, values = _knots(levels, quantiles)
    out = np.empty(len(y))
    for t, value in enumerate(y):
        v = values[t] + np.arange(len(knots)) * 1e-12  # strictly increasing
        out[t] = np.interp(value, v, knots)
    return out


@dataclass
class GaussianCopula:
    """Marginals from the quantiles; a step correlation learnt by :meth:`fit`."""

    levels: np.ndarray
    low: float | None = None
    shrinkage: float = 0.05
    correlation: np.ndarray | None = None

    def scores(self, quantiles: np.ndarray, actual: np.ndarray) -> np.ndarray:
        """Normal scores of outcomes (N, T) under forecasts (N, T, K)."""
        u = np.array(
            [_probabilities(self.levels, q, y) for q, y in zip(quantiles, actual, strict=True)]
        )
        return norm.ppf(np.clip(u, _EDGE, 1 - _EDGE))

    def fit(self, quantiles: np.ndarray, actual: np.ndarray) -> None:
        """The correlation of the normal scores of historical days, shrunk to identity."""
        z = self.scores(quantiles, actual)
        corr = np.corrcoef(z, rowvar=False)
        corr = np.nan_to_num(corr, nan=0.0)
        np.fill_diagonal(corr, 1.0)
        self.correlation = (1 - self.shrinkage) * corr + self.shrinkage * np.eye(len(corr))

    def sample(self, quantiles: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` scenarios (S, T) of a day forecast by ``quantiles`` (T, K)."""
        steps = quantiles.shape[0]
        corr = self.correlation if self.correlation is not None else np.eye(steps)
        chol = np.linalg.cholesky(corr[:steps, :steps])
        z = rng.standard_normal((count, steps)) @ chol.T
        return quantile_function(self.levels, quantiles, norm.cdf(z), self.low)
