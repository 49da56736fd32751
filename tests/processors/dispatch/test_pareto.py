"""The multi-objective day: repair, the exact front and NSGA-II's, on tiny days."""

import numpy as np
import pytest

from gridbrain.processors.dispatch.assets import StorageAsset
from gridbrain.processors.dispatch.pareto import (
    ParetoDay,
    exact_front,
    front_quality,
    ga_front,
    ga_min_cost,
    merge_front,
    non_dominated,
    repair,
)

ASSET = StorageAsset(
    capacity_kwh=1.0,
    charge_kw=0.5,
    discharge_kw=0.5,
    charge_efficiency=0.9**0.5,
    discharge_efficiency=0.9**0.5,
    soc_min=0.1,
    soc_max=0.9,
    soc_target=0.5,
)


def soc_path(day: ParetoDay, charge: np.ndarray, discharge: np.ndarray) -> np.ndarray:
    a = day.asset
    change = (a.charge_efficiency * charge - discharge / a.discharge_efficiency) * day.step_h
    return a.soc_target + np.cumsum(change, axis=-1) / a.capacity_kwh


@pytest.mark.parametrize("seed", range(5))
def test_repair_always_gives_a_feasible_day(seed: int) -> None:
    rng = np.random.default_rng(seed)
    steps = 24
    day = ParetoDay(ASSET, 1.0, rng.normal(50, 10, steps), rng.uniform(100, 400, steps))
    x = rng.uniform(-1.5, 1.5, (500, steps))  # beyond the bounds too
    x[:50] = 1.0  # discharge all day
    x[50:100] = -1.0  # charge all day
    charge, discharge = repair(x, day)
    assert (charge >= 0).all() and (discharge >= 0).all()
    assert (charge <= ASSET.charge_kw + 1e-9).all() and (
        discharge <= ASSET.discharge_kw + 1e-9
    ).all()
    assert not ((charge > 0) & (discharge > 0)).any()
    soc = soc_path(day, charge, discharge)
    assert soc.min() >= ASSET.soc_min - 1e-9 and soc.max() <= ASSET.soc_max + 1e-9
    assert soc[:, -1] == pytest.approx(np.full(len(x), ASSET.soc_target), abs=1e-9)


def test_two_hour_day_front_is_known_by_hand() -> None:
    # Lossless, 0.4 MWh of room either way. Charging x MWh in the cheap dirty hour and
    # discharging it in the dear clean one: cost -40x, CO2 +800x, throughput 2x; the
    # reverse: cost +40y, CO2 -800y, throughput 2y. The front is that line through idle.
    asset = ASSET.model_copy(update={"charge_efficiency": 1.0, "discharge_efficiency": 1.0})
    day = ParetoDay(asset, 1.0, np.array([10.0, 50.0]), np.array([900.0, 100.0]))
    front = exact_front(day, 5, 5)
    cost, co2, wear = front.T
    assert cost == pytest.approx(-co2 / 20, abs=1e-6)
    assert wear == pytest.approx(np.abs(co2) / 400, abs=1e-6)
    assert cost.min() == pytest.approx(-16.0) and cost.max() == pytest.approx(16.0)
    assert [0.0, 0.0, 0.0] in np.round(front, 9).tolist()


def test_front_of_a_trading_day_and_nsga2_near_it() -> None:
    prices = np.array([30.0, 20.0, 25.0, 60.0, 80.0, 40.0])
    carbon = np.array([300.0, 150.0, 400.0, 250.0, 350.0, 200.0])
    day = ParetoDay(ASSET, 1.0, prices, carbon)
    exact = exact_front(day, 12, 6)
    assert len(exact) >= 10
    assert (exact[:, 2] >= -1e-9).all() and [0.0, 0.0, 0.0] in np.round(exact, 9).tolist()
    found = ga_front(day, population=60, generations=120, seed=4)
    quality = front_quality(found, exact)
    assert quality["hypervolume_ratio"] > 0.9 and quality["igd_plus"] < 0.05
    best = ga_min_cost(day, "de", population=40, generations=300, seed=4)
    assert best == pytest.approx(exact[:, 0].min(), rel=0.005)
    plain = ga_min_cost(day, "ga", population=40, generations=150, seed=4)
    assert plain >= exact[:, 0].min() - 1e-6  # feasible: never better than the optimum
    assert best >= exact[:, 0].min() - 1e-6  # never better than the optimum


def test_non_dominated_drops_dominated_and_repeated_points() -> None:
    points = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [2.0, 1.0, 1.0], [0.5, 2.0, 1.0]])
    assert non_dominated(points).tolist() == [[0.5, 2.0, 1.0], [1.0, 1.0, 1.0]]


@pytest.mark.parametrize("seed", range(3))
def test_an_archive_grown_batch_by_batch_is_the_front_of_all_points(seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = np.round(rng.random((600, 3)), 2)  # rounded: ties and repeats happen
    archive = np.empty((0, 3))
    for start in range(0, len(points), 50):
        archive = merge_front(archive, points[start : start + 50])
    assert np.array_equal(archive, non_dominated(points))
