"""The conditional GAN learns the spread and the correlation of errors it is shown."""

import numpy as np
import pytest

from gridbrain.processors.scenarios.gan import ScenarioGAN

LEVELS = np.array([0.1, 0.5, 0.9])


def days(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts whose p10-p90 is +-1.28 and outcomes with errors shared by all steps."""
    level = rng.uniform(5, 15, (n, 1))
    mid = level * (1 + 0.3 * np.sin(np.linspace(0, 2 * np.pi, 8)))[None, :]
    quantiles = np.stack([mid - 1.28, mid, mid + 1.28], axis=2)
    actual = mid + rng.normal(0, 1, (n, 1))  # one error for the whole day
    return quantiles, actual


def test_gan_learns_spread_and_correlation() -> None:
    rng = np.random.default_rng(0)
    quantiles, actual = days(rng, 400)
    gan = ScenarioGAN(LEVELS, steps=8, noise=8, hidden=128, blocks=4, seed=3)
    gan.fit(quantiles, actual, iterations=1500)
    made = gan.sample(quantiles[0], 2000, np.random.default_rng(1))
    errors = made - quantiles[0][:, 1]
    assert errors.std(axis=0) == pytest.approx(np.ones(8), abs=0.3)  # not collapsed
    assert np.corrcoef(errors, rowvar=False)[0, 7] > 0.8  # the errors move together
    assert np.abs(errors.mean(axis=0)).max() < 1.0


def test_a_fit_repeats_with_its_seed() -> None:
    quantiles, actual = days(np.random.default_rng(0), 100)
    made = []
    for _ in range(2):
        gan = ScenarioGAN(LEVELS, steps=8, noise=4, hidden=16, blocks=4, seed=3)
        gan.fit(quantiles, actual, iterations=30)
        made.append(gan.sample(quantiles[0], 100, np.random.default_rng(1)))
    assert np.array_equal(made[0], made[1])


def test_steps_must_split_into_blocks() -> None:
    with pytest.raises(ValueError, match="blocks"):
        ScenarioGAN(LEVELS, steps=10, blocks=4)


def test_scenarios_respect_the_floor() -> None:
    rng = np.random.default_rng(2)
    quantiles, actual = days(rng, 50)
    gan = ScenarioGAN(LEVELS, steps=8, noise=4, hidden=16, blocks=4, low=0.0)
    gan.fit(quantiles, actual, iterations=20)
    assert gan.sample(quantiles[0] - 20, 50, rng).min() >= 0.0
