"""How a site's next plan is decided: the LP, an evolutionary search, or a learnt Q-table.

``lp`` is exact (HiGHS). ``ga`` searches the battery's power per step by differential
evolution (pymoo), every candidate made feasible in SOC by
:func:`~processors.dispatch.pareto.repair_flows` and scored on the LP's own objective;
grid limits and the no-grid-charging / no-export flags are penalised, and a result that
still breaks one is replaced by the LP's plan, with the reason. ``qlearning`` acts on a
table learnt by ``gridbrain benchmark qlearning --register`` for the same battery and
step: from the plan's first step as the day's first, on the plan's import prices; steps
beyond the table's day rest. Each returns a :class:`Schedule` whose ``solve_s`` is the
decision time.
"""

import time

import numpy as np

from gridbrain.processors.dispatch.lp import solve
from gridbrain.processors.dispatch.pareto import flow_search, repair_flows
from gridbrain.processors.dispatch.problem import DispatchProblem, Schedule
from gridbrain.processors.dispatch.qlearning import MAX_STEPS, POLICY_QUANTITY, QPolicy
from gridbrain.processors.dispatch.rules import with_grid

__all__ = ["POLICIES", "POLICY_QUANTITY", "decide", "evolve", "q_schedule"]

POLICIES = ("lp", "ga", "qlearning")
_PENALTY = 1e3  # per kWh outside a grid limit or flag, in the objective's units
_TOLERANCE_KWH = 1e-6


def decide(
    policy: str,
    problem: DispatchProblem,
    time_limit_s: float = 10.0,
    mip_gap: float = 1e-3,
    table: QPolicy | None = None,
) -> Schedule:
    """The plan ``policy`` makes for ``problem`` (the LP's, with a reason, when it cannot).

    Raises:
        ValueError: an unknown policy.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown dispatch policy {policy!r}; known: {', '.join(POLICIES)}")
    if policy == "ga":
        plan = evolve(problem)
        broken = float(_violation(problem, plan.charge, plan.discharge))
        if broken <= _TOLERANCE_KWH:
            return plan
        why = f"ga broke a grid limit by {broken:.3g} kWh: planned by lp"
    elif policy == "qlearning":
        why = _unusable(table, problem)
        if not why and table is not None:
            return q_schedule(problem, table)
    else:
        return solve(problem, time_limit_s, mip_gap)
    plan = solve(problem, time_limit_s, mip_gap)
    return Schedule(**{**plan.__dict__, "reason": "; ".join(filter(None, [why, plan.reason]))})


def _unusable(table: QPolicy | None, problem: DispatchProblem) -> str:
    if table is None:
        return "no promoted qlearning table for this site: planned by lp"
    if table.asset != problem.asset or abs(table.step_h - problem.step_h) > 1e-9:
        return "the qlearning table was learnt for another battery or step: planned by lp"
    return ""


def q_schedule(problem: DispatchProblem, table: QPolicy) -> Schedule:
    """The table's greedy plan on the problem's import prices (status ``qlearning``)."""
    started = time.perf_counter()
    a, h = problem.asset, problem.step_h
    steps = min(problem.steps, MAX_STEPS)
    stored = np.zeros(problem.steps)
    if steps >= 2:
        stored[:steps] = table.plan(problem.import_price[:steps], problem.soc_initial)
    charge = np.where(stored > 0, stored / (max(a.charge_efficiency, 1e-12) * h), 0.0)
    discharge = np.where(stored < 0, -stored * a.discharge_efficiency / h, 0.0)
    soc = problem.soc_initial + np.cumsum(stored) / a.capacity_kwh
    return with_grid(problem, charge, discharge, soc, "qlearning", time.perf_counter() - started)


def evolve(
    problem: DispatchProblem, population: int = 60, generations: int = 300, seed: int = 1
) -> Schedule:
    """Differential evolution's plan for ``problem`` (status ``ga``)."""
    from pymoo.algorithms.soo.nonconvex.de import DE
    from pymoo.optimize import minimize

    started = time.perf_counter()
    a, h = problem.asset, problem.step_h

    def flows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return repair_flows(x, a, h, problem.soc_initial, problem.soc_final)

    def score(charge: np.ndarray, discharge: np.ndarray) -> np.ndarray:
        penalty = _PENALTY * _violation(problem, charge, discharge)
        return _objective(problem, charge, discharge) + penalty

    plan_search, repair_ = flow_search(problem.steps, a, flows, score, 1)
    search = DE(pop_size=population, repair=repair_)
    result = minimize(plan_search, search, ("n_gen", generations), seed=seed)
    charge, discharge = (f[0] for f in flows(np.atleast_2d(result.X)))
    soc = (
        problem.soc_initial
        + np.cumsum(
            charge * a.charge_efficiency * h - discharge * h / max(a.discharge_efficiency, 1e-12)
        )
        / a.capacity_kwh
    )
    return with_grid(problem, charge, discharge, soc, "ga", time.perf_counter() - started)


def _grid(
    problem: DispatchProblem, charge: np.ndarray, discharge: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    net = problem.load - problem.pv + charge - discharge
    return np.maximum(net, 0.0), np.maximum(-net, 0.0)


def _objective(problem: DispatchProblem, charge: np.ndarray, discharge: np.ndarray) -> np.ndarray:
    """The LP's objective of battery flows (pop, T), the grid covering the rest."""
    w, h = problem.objective, problem.step_h
    bought, sold = _grid(problem, charge, discharge)
    cost = bought @ problem.import_price - sold @ problem.export_price
    wear = problem.asset.degradation_cost_per_kwh * (charge + discharge).sum(axis=-1)
    carbon = (bought - sold) @ problem.carbon
    return h * (w.cost * (cost + wear) + w.carbon * carbon + w.self_consumption * bought.sum(-1))


def _violation(problem: DispatchProblem, charge: np.ndarray, discharge: np.ndarray) -> np.ndarray:
    """Energy (kWh) beyond the grid limits and the asset's flags, per candidate."""
    a, h = problem.asset, problem.step_h
    bought, sold = _grid(problem, charge, discharge)
    over = np.zeros_like(bought)
    if a.grid_import_kw is not None:
        over += np.maximum(bought - a.grid_import_kw, 0.0)
    if a.grid_export_kw is not None:  # PV can be curtailed down to the limit
        over += np.maximum(sold - a.grid_export_kw - problem.pv, 0.0)
    if not a.grid_charging:
        over += np.maximum(charge - problem.pv, 0.0)
    if not a.discharge_to_grid:
        over += np.maximum(discharge - np.maximum(problem.load, 0.0), 0.0)
    return np.asarray(over.sum(axis=-1) * h)
