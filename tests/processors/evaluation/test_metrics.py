import numpy as np
import pytest

from gridbrain.processors.evaluation.metrics import forecast_metrics, pinball, reliability, skill
from gridbrain.processors.forecast.batch import LEVELS


def constant_quantiles(values: list[float]) -> np.ndarray:
    """One window, one step, quantiles at LEVELS from a list of the same length."""
    return np.array(values, dtype=np.float64).reshape(1, 1, len(LEVELS))


def test_perfect_forecast_scores_zero() -> None:
    q = constant_quantiles([5.0] * len(LEVELS))
    m = forecast_metrics(q, np.array([[5.0]]), mase_scale=1.0)
    assert m["mae"] == m["rmse"] == m["pinball"] == m["crps"] == 0.0
    assert m["coverage_80"] == 1.0


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        pytest.param(2.0, 0.5 * 1.0, id="above-median-by-one"),  # level 0.5: 0.5 * 1
        pytest.param(0.0, 0.5 * 1.0, id="below-median-by-one"),
    ],
)
def test_pinball_of_a_median(actual: float, expected: float) -> None:
    assert pinball(np.array([[[1.0]]]), np.array([[actual]]), (0.5,)) == expected


def test_crps_of_quantiles_approaches_the_closed_form_for_a_normal() -> None:
    # CRPS of N(0, 1) against y = 0 is (sqrt(2) - 1) / sqrt(pi) ~ 0.2337; with 99 levels the
    # quantile approximation is close.
    from statistics import NormalDist

    levels = tuple(np.linspace(0.01, 0.99, 99))
    q = np.array([NormalDist().inv_cdf(p) for p in levels]).reshape(1, 1, -1)
    crps = 2 * pinball(q, np.array([[0.0]]), levels)
    assert crps == pytest.approx((np.sqrt(2) - 1) / np.sqrt(np.pi), rel=0.05)


def test_missing_actuals_are_ignored() -> None:
    q = np.repeat(np.array([[[1.0], [1.0]]]), len(LEVELS), axis=-1)
    m = forecast_metrics(q, np.array([[2.0, np.nan]]), mase_scale=1.0)
    assert m["mae"] == 1.0


def test_reliability_counts_actuals_below_each_level() -> None:
    rng = np.random.default_rng(0)
    actual = rng.uniform(0, 1, (2000, 1))
    q = np.broadcast_to(np.array(LEVELS), (2000, 1, len(LEVELS)))
    np.testing.assert_allclose(reliability(q, actual), LEVELS, atol=0.03)


def test_skill() -> None:
    assert skill(1.0, 2.0) == 0.5
    assert skill(3.0, 2.0) == -0.5
    assert np.isnan(skill(1.0, 0.0))
