"""Scenario dispatch: one scenario is the LP; many hedge the way the mean cost says."""

import numpy as np
import pytest

from gridbrain.processors.dispatch.assets import StorageAsset
from gridbrain.processors.dispatch.lp import solve
from gridbrain.processors.dispatch.problem import DispatchProblem
from gridbrain.processors.dispatch.stochastic import scenario_plan

BATTERY = StorageAsset(
    capacity_kwh=2.0,
    charge_kw=1.0,
    discharge_kw=1.0,
    charge_efficiency=1.0,
    discharge_efficiency=1.0,
    soc_min=0.0,
    soc_max=1.0,
    soc_target=0.5,
)


def test_one_scenario_is_the_deterministic_lp() -> None:
    rng = np.random.default_rng(0)
    load, pv = rng.uniform(0, 2, 24), np.maximum(0, rng.normal(0.5, 0.5, 24))
    buy, sell = np.where(np.arange(24) < 12, 0.3, 0.1), np.full(24, 0.05)
    plan = scenario_plan(BATTERY, 1.0, load[None], pv, buy, sell)
    exact = solve(DispatchProblem.build(BATTERY, 1.0, load=load, pv=pv, import_price=buy,
                                        export_price=sell))  # fmt: skip
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(exact.objective, abs=1e-9)
    assert plan.soc[-1] == pytest.approx(BATTERY.soc_target)


def test_scenarios_hedge_where_the_median_bets() -> None:
    # Hour 1 is dear (0.15) but its load is 0 or 2 kW, even odds; exports earn nothing;
    # a kWh discharged is bought back at 0.1 in hour 2. On the median load (1 kW) it saves
    # 0.15 - 0.1; over the scenarios it saves 0.15 only when the load is there: 0.075 on
    # average, less than the refill costs.
    buy = np.array([0.1, 0.15, 0.1])
    sell = np.zeros(3)
    median = scenario_plan(BATTERY, 1.0, np.array([[0.0, 1.0, 0.0]]), np.zeros(3), buy, sell)
    both = np.array([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    hedged = scenario_plan(BATTERY, 1.0, both, np.zeros(3), buy, sell)
    assert median.discharge[1] == pytest.approx(1.0)  # saves 0.15, refilled at 0.1
    assert hedged.discharge[1] == pytest.approx(0.0)  # 0.075 expected, refilled at 0.1
