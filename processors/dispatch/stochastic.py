"""Scenario (two-stage stochastic) dispatch: one battery plan, the grid per scenario.

The battery's charge and discharge per step are decided once (they are the plan); each
scenario of the load buys and sells its own grid energy. The plan minimises the mean cost
over the scenarios (equal weights), so it hedges where the deterministic plan on the
median bets. The battery may export (a per-scenario discharge limit would make the plan
depend on the scenario); the asset's grid limits and charging flags are not modelled.
HiGHS through scipy; pure: arrays in, a schedule out.
"""

import time

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from gridbrain.processors.dispatch.assets import StorageAsset
from gridbrain.processors.dispatch.problem import DispatchProblem, Schedule
from gridbrain.processors.dispatch.rules import idle_schedule, with_grid

__all__ = ["scenario_plan"]


def scenario_plan(
    asset: StorageAsset,
    step_h: float,
    loads: np.ndarray,
    pv: np.ndarray,
    buy: np.ndarray,
    sell: np.ndarray,
    soc_initial: float | None = None,
) -> Schedule:
    """The battery plan of least mean cost over load scenarios ``loads`` (S, T).

    The end SOC is the asset's target. The returned schedule's grid flows are those of
    the mean load (status ``optimal``, or the idle plan with the solver's reason).
    """
    started = time.perf_counter()
    loads = np.atleast_2d(np.asarray(loads, dtype=np.float64))
    s, t = loads.shape
    a, h = asset, step_h
    start = (a.soc_target if soc_initial is None else soc_initial) * a.capacity_kwh
    # Variables: charge (t), discharge (t), stored energy (t), import (s t), export (s t).
    n = 3 * t + 2 * s * t
    cost = np.zeros(n)
    cost[:t] = cost[t : 2 * t] = a.degradation_cost_per_kwh * h
    cost[3 * t : 3 * t + s * t] = np.tile(buy, s) * h / s
    cost[3 * t + s * t :] = -np.tile(sell, s) * h / s
    eye = sparse.identity(t, format="csr")
    lag = sparse.eye(t, k=-1, format="csr")
    zero = sparse.csr_matrix((t, 2 * s * t))
    dynamics = sparse.hstack([-h * a.charge_efficiency * eye, h / a.discharge_efficiency * eye,
                              eye - lag, zero])  # fmt: skip
    energy_rhs = np.zeros(t)
    energy_rhs[0] = start
    block = sparse.kron(np.ones((s, 1)), sparse.hstack([-eye, eye, sparse.csr_matrix((t, t))]))
    grid = sparse.identity(s * t, format="csr")
    balance = sparse.hstack([block, grid, -grid])
    balance_rhs = (loads - pv[None, :]).ravel()
    low_e, high_e = np.full(t, a.soc_min * a.capacity_kwh), np.full(t, a.soc_max * a.capacity_kwh)
    low_e[-1] = high_e[-1] = a.soc_target * a.capacity_kwh
    top_in = np.maximum(loads, 0).ravel() + a.charge_kw
    top_out = np.tile(np.maximum(pv, 0), s) + a.discharge_kw
    upper = [np.full(t, a.charge_kw), np.full(t, a.discharge_kw), np.zeros(t), top_in, top_out]
    bounds = np.column_stack([np.zeros(n), np.concatenate(upper)])
    bounds[2 * t : 3 * t, 0], bounds[2 * t : 3 * t, 1] = low_e, high_e
    result = linprog(
        cost,
        A_eq=sparse.vstack([dynamics, balance]).tocsr(),
        b_eq=np.concatenate([energy_rhs, balance_rhs]),
        bounds=bounds,
        method="highs",
    )
    mean = DispatchProblem.build(asset, h, load=loads.mean(axis=0), pv=pv, import_price=buy,
                                 export_price=sell, soc_initial=start / a.capacity_kwh)  # fmt: skip
    elapsed = time.perf_counter() - started
    if result.status != 0 or result.x is None:
        return idle_schedule(mean, f"solver: {result.message}", elapsed)
    x = result.x
    charge, discharge = x[:t], x[t : 2 * t]
    return with_grid(mean, charge, discharge, x[2 * t : 3 * t] / a.capacity_kwh, "optimal", elapsed)
