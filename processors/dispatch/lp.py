"""Optimal battery dispatch as a linear programme on HiGHS (scipy), MILP only when needed.

The formulation of EMHASS and energy-py-linear, per step t of ``h`` hours (power in kW,
energy in kWh):

    supply = demand:  import_t + discharge_t + pv_t - curtail_t = load_t + charge_t + export_t
    state of charge:  E_t = E_(t-1) + h * (eta_c * charge_t - discharge_t / eta_d)
    limits:           0 <= charge_t <= P_c,  0 <= discharge_t <= P_d,  0 <= curtail_t <= pv_t,
                      0 <= import_t <= G_in,  0 <= export_t <= G_out,  E_min <= E_t <= E_max,
                      E_(T-1) = E_final (when given)
    minimise:         w_cost * h * sum(p_in import - p_out export + c_deg (charge + discharge))
                      + w_carbon * h * sum(ci (import - export)) + w_self * h * sum(import)

(exports displace grid energy of the same carbon intensity: net emissions, as in
energy-py-linear)

Charging and discharging at once (or importing and exporting at once) only pays when a
price is negative or export pays more than import; the LP is solved first and, only if
its solution does that, solved again with one binary per step and flow pair
(``charge <= P_c b``, ``discharge <= P_d (1 - b)``).
"""

import time

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from gridbrain.processors.dispatch.assets import Objective
from gridbrain.processors.dispatch.problem import DispatchProblem, Schedule
from gridbrain.processors.dispatch.rules import idle_schedule

__all__ = ["SIMULTANEOUS_TOL", "objective_rows", "solve"]

#: Power (kW) below which a flow counts as zero when checking for simultaneous flows.
SIMULTANEOUS_TOL = 1e-6

_C, _D, _IN, _OUT, _CU, _E = range(6)  # variable blocks, each one per step


def _objective(p: DispatchProblem) -> np.ndarray:
    w, h, t = p.objective, p.step_h, p.steps
    cost = np.zeros((6, t))
    deg = p.asset.degradation_cost_per_kwh
    cost[_C] = cost[_D] = w.cost * deg * h
    cost[_IN] = h * (w.cost * p.import_price + w.carbon * p.carbon + w.self_consumption)
    cost[_OUT] = -h * (w.cost * p.export_price + w.carbon * p.carbon)
    return cost.ravel()


def objective_rows(problem: DispatchProblem) -> dict[str, np.ndarray]:
    """Each objective term as a row over the LP's variables (for epsilon constraints).

    ``cost`` (EUR, with degradation), ``co2`` (net kg: imports minus exports, at the
    carbon intensity) and ``throughput`` (kWh charged plus discharged).
    """
    h, t = problem.step_h, problem.steps
    rows = {}
    for name, weights in (("cost", Objective(cost=1.0)), ("co2", Objective(cost=0.0, carbon=1.0))):
        rows[name] = _objective(DispatchProblem(**{**problem.__dict__, "objective": weights}))
    wear = np.zeros((6, t))
    wear[_C] = wear[_D] = h
    rows["throughput"] = wear.ravel()
    return rows


def _bounds(p: DispatchProblem) -> tuple[np.ndarray, np.ndarray]:
    a, t = p.asset, p.steps
    low, high = np.zeros((6, t)), np.zeros((6, t))
    high[_C] = a.charge_kw if a.charge_efficiency > 0 else 0.0
    high[_D] = a.discharge_kw if a.discharge_efficiency > 0 else 0.0
    if not a.grid_charging:
        high[_C] = np.minimum(high[_C], p.pv)
    if not a.discharge_to_grid:
        high[_D] = np.minimum(high[_D], np.maximum(p.load, 0.0))
    # No step can import more than its load and charging take, nor export more than its
    # PV, negative load and discharging give: bounds that keep the LP bounded when
    # exports pay more than imports (then the binaries part the two flows).
    high[_IN] = np.maximum(p.load, 0.0) + high[_C]
    high[_OUT] = p.pv + np.maximum(-p.load, 0.0) + high[_D]
    if a.grid_import_kw is not None:
        high[_IN] = np.minimum(high[_IN], a.grid_import_kw)
    if a.grid_export_kw is not None:
        high[_OUT] = np.minimum(high[_OUT], a.grid_export_kw)
    high[_CU] = p.pv
    low[_E], high[_E] = a.soc_min * a.capacity_kwh, a.soc_max * a.capacity_kwh
    if p.soc_final is not None:
        low[_E, -1] = high[_E, -1] = p.soc_final * a.capacity_kwh
    return low.ravel(), high.ravel()


def _constraints(p: DispatchProblem) -> list[LinearConstraint]:
    a, h, t = p.asset, p.step_h, p.steps
    eye = sparse.identity(t, format="csr")
    zero = sparse.csr_matrix((t, t))
    # Balance: import - export - charge + discharge - curtail = load - pv.
    balance = sparse.hstack([-eye, eye, eye, -eye, -eye, zero])
    # SOC: E_t - E_(t-1) - h eta_c charge_t + h / eta_d discharge_t = (E_0 at t = 0).
    lag = sparse.eye(t, k=-1, format="csr")
    out = h / a.discharge_efficiency if a.discharge_efficiency > 0 else 0.0
    soc = sparse.hstack([-h * a.charge_efficiency * eye, out * eye, zero, zero, zero, eye - lag])
    start = np.zeros(t)
    start[0] = p.soc_initial * a.capacity_kwh
    net = p.load - p.pv
    return [LinearConstraint(balance, net, net), LinearConstraint(soc, start, start)]


def _pair_binaries(
    p: DispatchProblem, low: np.ndarray, high: np.ndarray
) -> tuple[LinearConstraint, np.ndarray, np.ndarray]:
    """Rows ``x_a - M_a b <= 0`` and ``x_b + M_b b <= M_b`` for both flow pairs.

    Each pair gets its own binary per step; unlimited grid flows get a big M from the
    largest flow the step can have.
    """
    t = p.steps
    big = float(np.max(np.abs(p.load)) + np.max(p.pv) + p.asset.charge_kw + p.asset.discharge_kw)
    high_t = high.reshape(6, t)
    rows, upper = [], []
    eye = sparse.identity(t, format="csr")
    for pair, first in (((_C, _D), 0), ((_IN, _OUT), 1)):
        for side, var in enumerate(pair):
            m = np.where(np.isfinite(high_t[var]), high_t[var], big)
            blocks = [sparse.csr_matrix((t, t))] * 8
            blocks[var] = eye
            blocks[6 + first] = sparse.diags(-m if side == 0 else m)
            rows.append(sparse.hstack(blocks))
            upper.append(np.zeros(t) if side == 0 else m)
    matrix = sparse.vstack(rows)
    return (
        LinearConstraint(matrix, -np.inf, np.concatenate(upper)),
        np.concatenate([low, np.zeros(2 * t)]),
        np.concatenate([high, np.ones(2 * t)]),
    )


def _simultaneous(x: np.ndarray, t: int) -> bool:
    flows = x[: 6 * t].reshape(6, t)
    both = np.minimum(flows[_C], flows[_D]) > SIMULTANEOUS_TOL
    return bool(both.any() or (np.minimum(flows[_IN], flows[_OUT]) > SIMULTANEOUS_TOL).any())


def solve(
    problem: DispatchProblem,
    time_limit_s: float = 10.0,
    mip_gap: float = 1e-3,
    binaries: bool | None = None,
    limits: list[tuple[np.ndarray, float]] | None = None,
) -> Schedule:
    """The optimal schedule of ``problem``, or the idle schedule with the reason it failed.

    ``time_limit_s`` bounds each solve; ``mip_gap`` is the relative MIP gap accepted when
    binaries are used: when the LP's solution flows both ways at once (None), always
    (True, e.g. to time the MILP) or never (False: the relaxation). ``limits`` are upper
    bounds on rows of :func:`objective_rows` (epsilon constraints).
    """
    started = time.perf_counter()
    t = problem.steps
    c = _objective(problem)
    low, high = _bounds(problem)
    constraints = _constraints(problem)
    constraints += [LinearConstraint(row[None, :], -np.inf, bound) for row, bound in limits or []]
    options = {"time_limit": time_limit_s, "presolve": True}
    result = milp(c, constraints=constraints, bounds=Bounds(low, high), options=options)
    if binaries is None:
        binaries = result.status == 0 and _simultaneous(result.x, t)
    if binaries:
        pairs, low_b, high_b = _pair_binaries(problem, low, high)
        integrality = np.concatenate([np.zeros(6 * t), np.ones(2 * t)])
        c_b = np.concatenate([c, np.zeros(2 * t)])
        constraints = [
            LinearConstraint(
                sparse.hstack([k.A, sparse.csr_matrix((k.A.shape[0], 2 * t))]), k.lb, k.ub
            )
            for k in constraints
        ]
        result = milp(
            c_b,
            constraints=[*constraints, pairs],
            integrality=integrality,
            bounds=Bounds(low_b, high_b),
            options={**options, "mip_rel_gap": mip_gap},
        )
    elapsed = time.perf_counter() - started
    if result.x is None or result.status not in (0, 1):
        reason = f"solver: {result.message}"
        return idle_schedule(problem, reason, elapsed)
    x = result.x[: 6 * t].reshape(6, t)
    status = "optimal" if result.status == 0 else "time_limit"
    return Schedule(
        charge=x[_C],
        discharge=x[_D],
        grid_import=x[_IN],
        grid_export=x[_OUT],
        curtail=x[_CU],
        soc=x[_E] / problem.asset.capacity_kwh,
        objective=float(result.fun),
        status=status,
        solve_s=elapsed,
        binaries=binaries,
    )
