"""The Gaussian copula: marginals from the quantiles, the correlation learnt from history."""

import numpy as np
import pytest
from scipy.stats import norm

from gridbrain.processors.scenarios.copula import GaussianCopula, quantile_function

LEVELS = np.array([0.1, 0.5, 0.9])


def normal_quantiles(mean: np.ndarray, sd: float) -> np.ndarray:
    return mean[:, None] + sd * norm.ppf(LEVELS)[None, :]


def test_quantile_function_passes_through_the_quantiles() -> None:
    q = np.array([[1.0, 2.0, 4.0]])
    u = np.array([[0.1], [0.5], [0.9], [0.7]])
    assert quantile_function(LEVELS, q, u).ravel().tolist() == pytest.approx([1.0, 2.0, 4.0, 3.0])
    assert quantile_function(LEVELS, q, np.array([[0.0]]), low=1.0).item() == 1.0


def test_learnt_correlation_and_calibrated_samples() -> None:
    rng = np.random.default_rng(0)
    steps, days = 4, 600
    common = rng.normal(0, 1, (days, 1))
    z = 0.9 * common + np.sqrt(1 - 0.81) * rng.normal(0, 1, (days, steps))  # corr 0.81
    mean = np.linspace(10, 20, steps)
    forecasts = np.repeat(normal_quantiles(mean, 2.0)[None], days, axis=0)
    copula = GaussianCopula(LEVELS, shrinkage=0.0)
    copula.fit(forecasts, mean + 2.0 * z)
    assert copula.correlation is not None
    off = copula.correlation[~np.eye(steps, dtype=bool)]
    assert off == pytest.approx(np.full(len(off), 0.81), abs=0.08)
    made = copula.sample(forecasts[0], 4000, np.random.default_rng(1))
    assert made.shape == (4000, steps)
    # Inside p10-p90 about 80 % of the time, step by step.
    inside = ((made > forecasts[0][:, 0]) & (made < forecasts[0][:, 2])).mean(axis=0)
    assert inside == pytest.approx(np.full(steps, 0.8), abs=0.03)
    assert np.corrcoef(made, rowvar=False)[0, 1] > 0.7
