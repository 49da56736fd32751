"""Energy and variogram scores on ensembles whose value is known by hand."""

import numpy as np
import pytest

from gridbrain.processors.scenarios.scores import energy_score, variogram_score


def test_energy_score_of_one_member_is_the_distance() -> None:
    assert energy_score(np.array([[3.0, 4.0]]), np.array([0.0, 0.0])) == pytest.approx(5.0)


def test_energy_score_prefers_the_true_distribution() -> None:
    rng = np.random.default_rng(0)
    outcomes = rng.normal(0, 1, (200, 3))
    right = [energy_score(rng.normal(0, 1, (100, 3)), y) for y in outcomes]
    wide = [energy_score(rng.normal(0, 3, (100, 3)), y) for y in outcomes]
    assert np.mean(right) < np.mean(wide)


def test_variogram_score_sees_a_wrong_correlation_the_marginals_hide() -> None:
    rng = np.random.default_rng(1)
    together = np.repeat(rng.normal(0, 1, (300, 1)), 2, axis=1)  # both steps equal
    apart = rng.normal(0, 1, (100, 2))  # the same marginals, independent
    same = np.repeat(rng.normal(0, 1, (100, 1)), 2, axis=1)
    assert np.mean([variogram_score(same, y) for y in together]) < np.mean(
        [variogram_score(apart, y) for y in together]
    )
    # By hand: outcome (0, 1); members (0, 0) and (0, 2): |1|^.5 - (0 + 2^.5)/2, twice.
    expected = 2 * (1 - 2**0.5 / 2) ** 2
    got = variogram_score(np.array([[0.0, 0.0], [0.0, 2.0]]), np.array([0.0, 1.0]))
    assert got == pytest.approx(expected)
