import numpy as np
import pytest

from gridbrain.processors.dispatch.assets import StorageAsset
from gridbrain.processors.dispatch.lp import solve
from gridbrain.processors.dispatch.problem import DispatchProblem
from gridbrain.processors.dispatch.realise import follow
from gridbrain.processors.dispatch.rules import idle_schedule

ASSET = StorageAsset(capacity_kwh=4, charge_kw=2, discharge_kw=2, soc_target=0.5)


def test_a_plan_lived_as_forecast_costs_what_it_planned() -> None:
    load, pv = np.array([1.0, 1.0, 3.0, 2.0]), np.array([0.0, 3.0, 0.5, 0.0])
    buy, sell = np.array([0.1, 0.2, 0.4, 0.3]), np.full(4, 0.05)
    problem = DispatchProblem.build(
        ASSET, 0.5, load=load, pv=pv, import_price=buy, export_price=sell
    )
    plan = solve(problem)
    lived = follow(plan, ASSET, 0.5, load, pv, buy, sell, 0.5)
    assert lived.cost == pytest.approx(plan.objective)
    assert lived.soc == pytest.approx(plan.soc[-1])


def test_forecast_error_is_settled_with_the_grid() -> None:
    problem = DispatchProblem.build(ASSET, 1.0, load=[1.0], pv=[0.0], import_price=[0.3])
    idle = idle_schedule(problem, "test")
    prices = (np.array([0.3]), np.array([0.1]), 1.0)
    # One more kW of load than forecast is bought; 2 kW of unforeseen PV is exported.
    assert follow(idle, ASSET, 0.5, np.array([2.0]), np.array([0.0]), *prices).cost == 0.6
    lived = follow(idle, ASSET, 0.5, np.array([1.0]), np.array([3.0]), *prices)
    assert lived.cost == pytest.approx(-0.2) and lived.soc == 0.5


def test_a_battery_that_may_not_export_serves_only_the_actual_load() -> None:
    asset = ASSET.model_copy(update={"soc_target": 1.0, "discharge_efficiency": 1.0})
    problem = DispatchProblem.build(
        asset, 1.0, load=[2.0], import_price=[0.3], export_price=[0.05], soc_final=0.5
    )
    plan = solve(problem)  # plans to discharge 2 kW into a forecast 2 kW load
    assert plan.discharge == pytest.approx([2.0])
    actual = (np.array([0.5]), np.array([0.0]), np.array([0.3]), np.array([0.05]), 1.0)
    exporting = follow(plan, asset, 1.0, *actual)
    assert exporting.cost == pytest.approx(-1.5 * 0.05) and exporting.soc == pytest.approx(0.5)
    home = asset.model_copy(update={"discharge_to_grid": False})
    lived = follow(plan, home, 1.0, *actual)
    assert lived.cost == pytest.approx(0.0) and lived.soc == pytest.approx(0.875)


def test_soc_limits_hold_when_reality_departs_from_the_plan() -> None:
    charge_all = DispatchProblem.build(ASSET, 1.0, import_price=[-1.0, 1.0], soc_final=1.0)
    plan = solve(charge_all)
    lived = follow(plan, ASSET, 0.9, np.zeros(2), np.zeros(2), np.ones(2), np.ones(2), 1.0)
    assert lived.soc == pytest.approx(1.0)  # started fuller than planned: charged less
