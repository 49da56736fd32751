"""Schedules without an optimiser: the safe idle plan and the cheapest/dearest-hours rule."""

import math

import numpy as np

from gridbrain.processors.dispatch.problem import DispatchProblem, Schedule

__all__ = ["idle_schedule", "price_rule", "with_grid"]


def with_grid(
    problem: DispatchProblem,
    charge: np.ndarray,
    discharge: np.ndarray,
    soc: np.ndarray,
    status: str,
    solve_s: float,
    reason: str = "",
) -> Schedule:
    """The schedule of given battery flows, the grid covering the rest.

    Exports above the export limit are curtailed from PV as far as PV goes.
    """
    net = problem.load - problem.pv + charge - discharge
    grid_import, grid_export = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    limit = problem.asset.grid_export_kw
    curtail = np.zeros_like(net)
    if limit is not None:
        curtail = np.minimum(np.maximum(grid_export - limit, 0.0), problem.pv)
        grid_export = grid_export - curtail
    schedule = Schedule(
        charge,
        discharge,
        grid_import,
        grid_export,
        curtail,
        soc,
        0.0,
        status,
        solve_s,
        reason=reason,
    )
    return Schedule(**{**schedule.__dict__, "objective": schedule.cost(problem)})


def idle_schedule(problem: DispatchProblem, reason: str, solve_s: float = 0.0) -> Schedule:
    """The safe plan when no better one can be made: the battery rests, the grid serves.

    Status ``fallback``; ``reason`` says why.
    """
    zero = np.zeros(problem.steps)
    soc = np.full(problem.steps, problem.soc_initial)
    return with_grid(problem, zero, zero.copy(), soc, "fallback", solve_s, reason)


def price_rule(problem: DispatchProblem) -> Schedule:
    """Charge at full power in the cheapest steps, discharge in the dearest, in time order.

    As many steps each as one full cycle between the SOC limits takes; a step is never in
    both sets; SOC limits clip the flows. Status ``rule``; the end SOC is where it lands.
    """
    a, h = problem.asset, problem.step_h
    usable = (a.soc_max - a.soc_min) * a.capacity_kwh
    can_charge = a.charge_kw * a.charge_efficiency * h
    can_discharge = a.discharge_kw * h / a.discharge_efficiency if a.discharge_efficiency else 0
    n_charge = math.ceil(usable / can_charge) if can_charge > 0 else 0
    n_discharge = math.ceil(usable / can_discharge) if can_discharge > 0 else 0
    order = np.argsort(problem.import_price, kind="stable")
    dear = set(order[::-1][:n_discharge].tolist())
    cheap = [i for i in order.tolist() if i not in dear][:n_charge]
    charge, discharge = np.zeros(problem.steps), np.zeros(problem.steps)
    soc = np.empty(problem.steps)
    energy = problem.soc_initial * a.capacity_kwh
    low, high = a.soc_min * a.capacity_kwh, a.soc_max * a.capacity_kwh
    cheap_set = set(cheap)
    for t in range(problem.steps):
        if t in cheap_set and can_charge > 0:
            stored = min(can_charge, max(high - energy, 0.0))
            charge[t] = stored / (a.charge_efficiency * h)
            energy += stored
        elif t in dear and can_discharge > 0:
            taken = min(can_discharge, max(energy - low, 0.0))
            discharge[t] = taken * a.discharge_efficiency / h
            energy -= taken
        soc[t] = energy / a.capacity_kwh
    return with_grid(problem, charge, discharge, soc, "rule", 0.0)
