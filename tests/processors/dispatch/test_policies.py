"""Who decides a plan: the LP, differential evolution or a Q-table, on days known by hand."""

import numpy as np
import pytest

from gridbrain.processors.dispatch.assets import StorageAsset
from gridbrain.processors.dispatch.lp import solve
from gridbrain.processors.dispatch.policies import decide, evolve
from gridbrain.processors.dispatch.problem import DispatchProblem
from gridbrain.processors.dispatch.qlearning import QPolicy
from tests.processors.dispatch.batteries import LOSSLESS

ASSET = LOSSLESS
PRICES = np.array([0.10, 0.10, 0.30, 0.30, 0.20, 0.05, 0.40, 0.20])


def market(asset: StorageAsset = ASSET) -> DispatchProblem:
    return DispatchProblem.build(asset, 1.0, import_price=PRICES)


def feasible(problem: DispatchProblem, charge: np.ndarray, discharge: np.ndarray) -> bool:
    a = problem.asset
    energy = problem.soc_initial * a.capacity_kwh + np.cumsum(
        charge * a.charge_efficiency - discharge / a.discharge_efficiency
    )
    return bool(
        np.all(energy >= a.soc_min * a.capacity_kwh - 1e-9)
        and np.all(energy <= a.soc_max * a.capacity_kwh + 1e-9)
        and abs(energy[-1] - problem.soc_final * a.capacity_kwh) < 1e-9
        and np.all(charge <= a.charge_kw + 1e-9)
        and np.all(discharge <= a.discharge_kw + 1e-9)
    )


def test_evolution_finds_the_lp_optimum_of_a_small_day() -> None:
    problem = market()
    exact = solve(problem)
    # By hand, from SOC 0.5: 0.4 up at 0.10 (to 0.9), down at 0.30 twice (to 0.1), up
    # at 0.05, down at 0.40, back up to 0.5 at 0.20:
    # -0.04 + 0.12 + 0.12 - 0.02 + 0.16 - 0.08 = 0.26 earned.
    assert exact.objective == pytest.approx(-0.26)
    plan = evolve(problem, seed=3)
    assert plan.status == "ga" and plan.solve_s > 0
    assert feasible(problem, plan.charge, plan.discharge)
    assert plan.objective == pytest.approx(exact.objective, abs=0.003)


def test_qlearning_without_a_table_is_planned_by_the_lp_with_the_reason() -> None:
    plan = decide("qlearning", market())
    assert plan.status == "optimal" and "no promoted qlearning table" in plan.reason
    other = QPolicy(ASSET.model_copy(update={"capacity_kwh": 2.0}))
    plan = decide("qlearning", market(), table=other)
    assert "another battery" in plan.reason


def test_qlearning_with_its_table_trades_the_spread() -> None:
    table = QPolicy(ASSET)
    table.learn([(PRICES, PRICES)] * 4, epochs=10)
    problem = market()
    plan = decide("qlearning", problem, table=table)
    assert plan.status == "qlearning" and plan.reason == ""
    assert feasible(problem, plan.charge, plan.discharge)
    assert plan.objective == pytest.approx(-0.26)  # this day learnt: its optimum


def test_ga_breaking_a_grid_flag_falls_back_to_the_lp() -> None:
    # No grid charging and no PV: the only feasible plan is idle; DE cannot charge.
    asset = ASSET.model_copy(update={"grid_charging": False})
    problem = DispatchProblem.build(asset, 1.0, load=0.5, import_price=PRICES)
    plan = decide("ga", problem)
    assert np.allclose(plan.charge, 0.0)
    assert plan.status in {"ga", "optimal"}
    assert plan.status == "ga" or "planned by lp" in plan.reason


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dispatch policy"):
        decide("magic", market())


def test_exports_dearer_than_imports_keep_the_lp_bounded_and_ga_near_it() -> None:
    # Found by comparing the policies: with an unlimited grid the LP was unbounded (buy at
    # 0.001, sell at 0.05 at once) and fell back to idle; now the binaries part the flows.
    prices = np.array([0.10, 0.001, 0.12, 0.15, 0.001, 0.2])
    problem = DispatchProblem.build(ASSET, 1.0, load=1.0, import_price=prices, export_price=0.05)
    exact = solve(problem)
    assert exact.status == "optimal"
    assert not np.any(np.minimum(exact.grid_import, exact.grid_export) > 1e-6)
    plan = evolve(problem, seed=2)
    assert feasible(problem, plan.charge, plan.discharge)
    assert exact.objective <= plan.objective <= exact.objective + 0.01
