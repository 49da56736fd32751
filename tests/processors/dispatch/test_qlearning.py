"""The Q-learning trader on days whose best trade is known by hand."""

import numpy as np
import pytest

from gridbrain.processors.dispatch.qlearning import QPolicy, price_bins
from tests.processors.dispatch.batteries import LOSSLESS


def test_levels_and_actions_follow_the_battery() -> None:
    policy = QPolicy(LOSSLESS)
    assert policy.level_kwh == pytest.approx(0.1)
    assert policy.actions.tolist() == [-4, -3, -2, -1, 0, 1, 2, 3, 4]  # 0.4 kW for an hour
    assert policy.target == 4


def test_buy_low_sell_high_is_learnt_on_a_two_hour_day() -> None:
    day = np.array([10.0, 30.0])
    policy = QPolicy(LOSSLESS)
    policy.learn([(day, day)] * 5, epochs=10)
    # Up by the power limit (0.4 kWh) at 10, back to the target at 30: 0.4 x 20.
    assert policy.plan(day).tolist() == pytest.approx([0.4, -0.4])
    assert policy.profit(day, day) == pytest.approx(8.0)


def test_a_spread_below_the_losses_is_not_traded() -> None:
    lossy = LOSSLESS.model_copy(update={"charge_efficiency": 0.9, "discharge_efficiency": 0.9})
    day = np.array([50.0, 55.0, 52.0])  # 55 / 50 < 1 / 0.81
    policy = QPolicy(lossy)
    policy.learn([(day, day)] * 5, epochs=10)
    assert policy.plan(day).tolist() == [0.0, 0.0, 0.0]


def test_learning_repeats_with_the_seed() -> None:
    rng = np.random.default_rng(1)
    days = [(p, p + rng.normal(0, 3, 24)) for p in rng.normal(50, 15, (40, 24))]
    first, second = QPolicy(LOSSLESS), QPolicy(LOSSLESS)
    first.learn(days, epochs=3, seed=7)
    second.learn(days, epochs=3, seed=7)
    assert np.array_equal(first.table, second.table)


@pytest.mark.parametrize("seed", range(5))
def test_every_plan_keeps_the_soc_in_limits_and_ends_at_the_target(seed: int) -> None:
    rng = np.random.default_rng(seed)
    asset = LOSSLESS.model_copy(update={"charge_kw": 0.25, "discharge_kw": 0.35})
    policy = QPolicy(asset)
    history = [(p, p) for p in rng.normal(50, 20, (30, 24))]
    policy.learn(history, epochs=2, seed=seed)
    for steps in (2, 23, 24, 25):
        start = rng.uniform(asset.soc_min, asset.soc_max)  # off the table's levels
        stored = policy.plan(rng.normal(50, 30, steps), start)
        soc = start + np.cumsum(stored) / asset.capacity_kwh
        assert np.all(soc >= asset.soc_min - 1e-9) and np.all(soc <= asset.soc_max + 1e-9)
        assert soc[-1] == pytest.approx(asset.soc_target)
        assert np.all(stored <= asset.charge_kw + 1e-9)
        assert np.all(-stored <= asset.discharge_kw + 1e-9)


def test_a_day_longer_than_the_table_is_refused() -> None:
    with pytest.raises(ValueError, match="26 steps"):
        QPolicy(LOSSLESS).plan(np.ones(26))


def test_price_bins_cover_every_step() -> None:
    bins = price_bins(np.random.default_rng(0).normal(50, 20, 24))
    assert bins.shape == (24,) and bins.min() >= 0 and bins.max() < 16


def test_a_stored_table_acts_the_same() -> None:
    day = np.array([10.0, 30.0, 20.0])
    policy = QPolicy(LOSSLESS)
    policy.learn([(day, day)] * 3, epochs=5)
    again = QPolicy.from_bytes(policy.to_bytes())
    assert again.asset == LOSSLESS and np.array_equal(again.table, policy.table)
    assert again.plan(day).tolist() == policy.plan(day).tolist()
    with pytest.raises(ValueError, match="not a Q-learning table"):
        QPolicy.from_bytes(b"\x00 not a table")
