"""Forecast combination weights on a simplex grid, by validation MAE."""

from math import comb

import numpy as np
import pytest

from gridbrain.processors.forecast.combination import combination_weights, simplex_grid


@pytest.mark.parametrize(("members", "resolution"), [(1, 10), (2, 10), (4, 10), (5, 4)])
def test_the_grid_holds_every_weight_vector_once(members: int, resolution: int) -> None:
    grid = simplex_grid(members, resolution)
    assert grid.shape == (comb(resolution + members - 1, members - 1), members)
    assert (grid >= 0).all() and np.allclose(grid.sum(axis=1), 1.0)
    assert len({tuple(row) for row in (grid * resolution).round().astype(int)}) == len(grid)
    assert np.allclose(np.sort(grid * resolution) % 1, 0)  # multiples of 1 / resolution


def test_a_grid_needs_members_and_steps() -> None:
    with pytest.raises(ValueError):
        simplex_grid(0, 10)
    with pytest.raises(ValueError):
        simplex_grid(2, 0)


def target_and_noise(n: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return np.sin(np.arange(n) / 7.0) * 100, rng.normal(0, 10, n)


def test_opposite_errors_are_shared_and_a_useless_member_gets_nothing() -> None:
    y, noise = target_and_noise()
    high, low, junk = y + 20 + noise, y - 20 - noise, np.full_like(y, 500.0)
    weights = combination_weights(np.stack([high, low, junk]), y)
    assert weights.tolist() == [0.5, 0.5, 0.0]


def test_a_member_that_is_right_takes_all_the_weight() -> None:
    y, noise = target_and_noise()
    weights = combination_weights(np.stack([y + noise, y, y - 3 * noise]), y)
    assert weights.tolist() == [0.0, 1.0, 0.0]


def test_the_combination_is_never_worse_than_its_best_member_where_it_was_fitted() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(0, 1, (300, 24))
    medians = np.stack([y + rng.normal(b, s, y.shape) for b, s in [(0.3, 1), (-0.2, 2), (0, 3)]])
    weights = combination_weights(medians, y)
    combined = np.abs(np.tensordot(weights, medians, axes=1) - y).mean()
    assert combined <= min(np.abs(m - y).mean() for m in medians)
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()


def test_equally_good_members_share_the_weight() -> None:
    y, noise = target_and_noise()
    assert combination_weights(np.stack([y + noise, y + noise]), y).tolist() == [0.5, 0.5]


def test_unknown_targets_and_non_finite_forecasts_are_left_out() -> None:
    y, noise = target_and_noise()
    target = y.copy()
    target[::3] = np.nan
    good = y.copy()
    good[1::3] = np.inf  # a member's overflow on a few steps does not poison the sums
    weights = combination_weights(np.stack([good, y + 5 * noise]), target)
    assert weights.tolist() == [1.0, 0.0]


def test_shapes_that_do_not_match_and_no_known_target_are_refused() -> None:
    y, _ = target_and_noise(10)
    with pytest.raises(ValueError, match="do not match"):
        combination_weights(np.stack([y, y])[:, :5], y)
    with pytest.raises(ValueError, match="no finite target"):
        combination_weights(np.stack([y, y]), np.full_like(y, np.nan))
