"""The dispatch LP on small problems whose optimum is known by hand."""

import numpy as np
import pytest
from pydantic import ValidationError

from gridbrain.processors.dispatch.assets import Objective, StorageAsset
from gridbrain.processors.dispatch.lp import solve
from gridbrain.processors.dispatch.problem import DispatchProblem
from gridbrain.processors.dispatch.trading import independent_profit


def battery(**changes: float) -> StorageAsset:
    values = {
        "capacity_kwh": 1.0,
        "charge_kw": 1.0,
        "discharge_kw": 1.0,
        "charge_efficiency": 1.0,
        "discharge_efficiency": 1.0,
        "soc_min": 0.0,
        "soc_max": 1.0,
        "soc_target": 0.0,
        **changes,
    }
    return StorageAsset.model_validate(values)


def test_buy_cheap_sell_dear_lossless() -> None:
    problem = DispatchProblem.build(battery(), 1.0, import_price=[10.0, 50.0])
    plan = solve(problem)
    assert plan.status == "optimal" and not plan.binaries
    assert plan.objective == pytest.approx(-40.0)
    assert plan.charge == pytest.approx([1.0, 0.0]) and plan.discharge == pytest.approx([0, 1])
    assert plan.soc == pytest.approx([1.0, 0.0])
    assert plan.grid_import == pytest.approx([1.0, 0.0])
    assert plan.grid_export == pytest.approx([0.0, 1.0])


def test_losses_on_both_legs() -> None:
    # 1 kW in stores 0.9 kWh; 0.9 kWh out gives 0.81 kW: 10 - 50 * 0.81 = -30.5.
    asset = battery(charge_efficiency=0.9, discharge_efficiency=0.9)
    plan = solve(DispatchProblem.build(asset, 1.0, import_price=[10.0, 50.0]))
    assert plan.objective == pytest.approx(-30.5)
    assert plan.soc == pytest.approx([0.9, 0.0])


def test_spread_below_the_losses_is_not_traded() -> None:
    asset = battery(charge_efficiency=0.9, discharge_efficiency=0.9)
    plan = solve(DispatchProblem.build(asset, 1.0, import_price=[40.0, 45.0]))
    assert plan.objective == pytest.approx(0.0, abs=1e-9)
    assert plan.charge.sum() == pytest.approx(0.0, abs=1e-9)


def test_empty_battery_cannot_sell_first() -> None:
    plan = solve(DispatchProblem.build(battery(), 1.0, import_price=[50.0, 10.0]))
    assert plan.objective == pytest.approx(0.0, abs=1e-9)
    assert plan.discharge == pytest.approx([0.0, 0.0], abs=1e-9)


@pytest.mark.parametrize("leg", ["charge_efficiency", "discharge_efficiency"])
def test_zero_efficiency_leg_makes_the_battery_useless(leg: str) -> None:
    plan = solve(DispatchProblem.build(battery(**{leg: 0.0}), 1.0, import_price=[1.0, 99.0]))
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(0.0, abs=1e-9)
    assert (plan.charge + plan.discharge).sum() == pytest.approx(0.0, abs=1e-9)


def test_negative_prices_need_the_binaries() -> None:
    # Paid to import: the relaxation charges and discharges at once in both steps (burns
    # 19 % of 1 kW each step: -7.6); with binaries the best is charge then discharge.
    asset = battery(charge_efficiency=0.9, discharge_efficiency=0.9, soc_target=0.0)
    problem = DispatchProblem.build(asset, 1.0, import_price=[-20.0, -20.0])
    relaxed = solve(problem, binaries=False)
    assert relaxed.objective == pytest.approx(-7.6)
    plan = solve(problem, mip_gap=0.0)
    assert plan.binaries and plan.status == "optimal"
    assert plan.objective == pytest.approx(-3.8)
    assert (np.minimum(plan.charge, plan.discharge) < 1e-6).all()
    assert (np.minimum(plan.grid_import, plan.grid_export) < 1e-6).all()


def test_unreachable_final_soc_falls_back_to_idle_with_the_reason() -> None:
    asset = battery(charge_kw=0.5)
    problem = DispatchProblem.build(asset, 1.0, import_price=[1.0], soc_initial=0.0, soc_final=1.0)
    plan = solve(problem)
    assert plan.status == "fallback" and "infeasible" in plan.reason.lower()
    assert plan.charge == pytest.approx([0.0]) and plan.soc == pytest.approx([0.0])


def test_load_above_the_import_limit_is_infeasible_without_the_battery() -> None:
    asset = battery(grid_import_kw=1.0, soc_target=0.0)
    problem = DispatchProblem.build(asset, 1.0, load=[2.0], import_price=[1.0])
    assert solve(problem).status == "fallback"
    # With stored energy to cover the rest it is feasible.
    stored = DispatchProblem.build(
        asset, 1.0, load=[2.0], import_price=[1.0], soc_initial=1.0, soc_final=0.0
    )
    plan = solve(stored)
    assert plan.status == "optimal" and plan.discharge == pytest.approx([1.0])


def test_self_consumption_stores_pv_for_the_evening() -> None:
    asset = battery(charge_efficiency=0.9, discharge_efficiency=0.9)
    inputs = {"load": [1.0, 0.81], "pv": [2.0, 0.0], "import_price": 0.3, "export_price": 0.3}
    by_cost = solve(DispatchProblem.build(asset, 1.0, **inputs))
    assert by_cost.grid_import == pytest.approx([0.0, 0.81])  # losses make storing dearer
    own = Objective(cost=0.0, self_consumption=1.0)
    by_self = solve(DispatchProblem.build(asset, 1.0, objective=own, **inputs))
    assert by_self.grid_import == pytest.approx([0.0, 0.0], abs=1e-9)
    assert by_self.charge[0] == pytest.approx(1.0)


def test_carbon_objective_shifts_imports_to_clean_hours() -> None:
    asset = battery(
        capacity_kwh=2.0, charge_kw=2.0, charge_efficiency=0.9, discharge_efficiency=0.9
    )
    inputs = {"load": [0.0, 1.0], "import_price": 0.2, "carbon": [0.1, 0.9]}
    cheap = solve(DispatchProblem.build(asset, 1.0, **inputs))
    assert cheap.grid_import == pytest.approx([0.0, 1.0], abs=1e-9)
    clean = Objective(cost=0.0, carbon=1.0)
    green = solve(DispatchProblem.build(asset, 1.0, objective=clean, **inputs))
    assert green.grid_import == pytest.approx([1 / 0.81, 0.0], abs=1e-9)
    assert green.objective == pytest.approx(0.1 / 0.81)


def test_pv_is_curtailed_when_exporting_costs() -> None:
    problem = DispatchProblem.build(
        battery(capacity_kwh=0.5, soc_target=0.0), 1.0, pv=[2.0], import_price=[-10.0]
    )
    plan = solve(problem)
    assert plan.grid_export == pytest.approx([0.0], abs=1e-9)
    assert plan.curtail == pytest.approx([2.0])  # the store must end empty as it began


def test_agrees_with_the_independent_formulation() -> None:
    rng = np.random.default_rng(7)
    asset = StorageAsset(
        capacity_kwh=1.0,
        charge_kw=0.5,
        discharge_kw=0.5,
        charge_efficiency=0.9**0.5,
        discharge_efficiency=0.9**0.5,
        soc_min=0.1,
        soc_max=0.9,
        soc_target=0.5,
    )
    for _ in range(20):
        prices = 50 + 20 * np.sin(np.arange(24) / 24 * 2 * np.pi) + rng.normal(0, 8, 24)
        plan = solve(DispatchProblem.build(asset, 1.0, import_price=prices))
        assert -plan.objective == pytest.approx(independent_profit(asset, 1.0, prices), rel=1e-6)


@pytest.mark.parametrize(
    "changes",
    [
        {"soc_min": 0.8, "soc_max": 0.2},
        {"soc_target": 0.95, "soc_max": 0.9},
        {"charge_efficiency": 1.5},
        {"capacity_kwh": 0.0},
        {"charge_kw": -1.0},
    ],
)
def test_bad_assets_are_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        battery(**changes)


def test_missing_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="import_price"):
        DispatchProblem.build(battery(), 1.0, import_price=[1.0, float("nan")])
    with pytest.raises(ValueError, match="step_h"):
        DispatchProblem.build(battery(), 0.0, import_price=[1.0])
