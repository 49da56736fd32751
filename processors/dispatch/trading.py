"""Market trading scored the way a day-ahead bidder lives it.

A merchant battery plans each local calendar day on prices known at the previous day's
noon and is paid the actual prices; its profit is set against the perfect-foresight
profit of the same day (the capture ratio). Pure: arrays in, numbers out.
"""

import numpy as np
from scipy.optimize import linprog

from gridbrain.processors.dispatch.assets import StorageAsset
from gridbrain.processors.dispatch.lp import solve
from gridbrain.processors.dispatch.problem import DispatchProblem
from gridbrain.processors.dispatch.rules import price_rule

__all__ = ["independent_profit", "persistence_prices", "plan_profit", "rule_profit"]


def persistence_prices(values: np.ndarray, rows: np.ndarray, cutoff: int) -> np.ndarray:
    """For each hour of ``rows``, the newest known price of the same hour of day.

    Known means before index ``cutoff`` (the previous day's noon): a day back where that
    is known, else two days back. Hourly ``values``.
    """
    back = np.where(rows - 24 < cutoff, rows - 24, rows - 48)
    return values[back]


def plan_profit(
    asset: StorageAsset,
    step_h: float,
    planned: np.ndarray,
    actual: np.ndarray,
    hurdle: float = 0.0,
) -> tuple[float, float]:
    """Profit at ``actual`` prices of the LP plan made on ``planned`` prices, and its solve time.

    ``hurdle`` (price units per unit of energy charged or discharged) is a margin a trade
    must clear in the plan only, against forecast error; it is not paid.
    """
    wear = asset.degradation_cost_per_kwh
    margin = asset.model_copy(update={"degradation_cost_per_kwh": wear + hurdle})
    plan = solve(DispatchProblem.build(margin, step_h, import_price=planned))
    energy = (
        actual @ (plan.grid_export - plan.grid_import) - wear * (plan.charge + plan.discharge).sum()
    )
    return float(energy * step_h), plan.solve_s


def rule_profit(
    asset: StorageAsset, step_h: float, planned: np.ndarray, actual: np.ndarray
) -> float:
    """Profit at ``actual`` prices of the cheapest/dearest-hours rule run on ``planned``.

    Energy left above (below) the start SOC is sold (bought) at the day's mean actual
    price, as the rule does not steer its end SOC.
    """
    problem = DispatchProblem.build(asset, step_h, import_price=planned)
    plan = price_rule(problem)
    left = (plan.soc[-1] - problem.soc_initial) * asset.capacity_kwh
    return -plan.cost(problem, actual) + left * float(actual.mean())


def independent_profit(asset: StorageAsset, step_h: float, prices: np.ndarray) -> float:
    """Perfect-foresight profit of a merchant battery by a second, dense formulation.

    Written apart from :mod:`~processors.dispatch.lp` (variables: stored energy change
    split into charge and discharge energies, dense equality matrix, HiGHS interior
    point), to check it: both must agree.
    """
    n = len(prices)
    eta_c, eta_d = asset.charge_efficiency, asset.discharge_efficiency
    # x = [energy charged into the store (n), energy drawn from the store (n)], kWh.
    # AC bought = charged / eta_c; AC sold = drawn * eta_d. Profit = sold - bought.
    cost = np.concatenate([prices / eta_c, -prices * eta_d])
    cumulative = np.tril(np.ones((n, n)))
    start = asset.soc_target * asset.capacity_kwh
    # start + cumsum(charged - drawn) within the SOC limits; back to the start at the end.
    a_ub = np.block([[cumulative, -cumulative], [-cumulative, cumulative]])
    b_ub = np.concatenate(
        [
            np.full(n, asset.soc_max * asset.capacity_kwh - start),
            np.full(n, start - asset.soc_min * asset.capacity_kwh),
        ]
    )
    a_eq = np.concatenate([np.ones(n), -np.ones(n)])[None, :]
    bounds = [(0, asset.charge_kw * step_h * eta_c)] * n + [
        (0, asset.discharge_kw * step_h / eta_d)
    ] * n
    result = linprog(
        cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[0.0], bounds=bounds, method="highs-ipm"
    )
    if result.status != 0:
        raise ValueError(f"independent LP failed: {result.message}")
    return float(-result.fun)
