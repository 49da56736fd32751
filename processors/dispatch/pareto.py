"""Cost, CO2 and battery wear of a day's trading: the exact front and NSGA-II's.

A merchant battery's day has three objectives to minimise: the energy cost (imports minus
exports at the price), the net CO2 (emissions of the energy charged minus those of the
grid energy displaced by the energy discharged, at the hour's carbon intensity) and the
energy throughput (charged plus discharged: a degradation proxy). The exact front comes
from the LP by the epsilon-constraint method (minimise cost with CO2 and throughput
bounded, over a grid of bounds); the genetic algorithms (pymoo) search the battery's
power per step directly, every candidate made feasible by :func:`repair`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridbrain.processors.dispatch.assets import Objective, StorageAsset
from gridbrain.processors.dispatch.lp import objective_rows, solve
from gridbrain.processors.dispatch.problem import DispatchProblem
from gridbrain.processors.dispatch.rules import idle_schedule

__all__ = [
    "OBJECTIVES",
    "ParetoDay",
    "exact_front",
    "flow_search",
    "front_quality",
    "ga_front",
    "ga_min_cost",
    "merge_front",
    "repair",
    "repair_flows",
]

OBJECTIVES = ("cost", "co2", "throughput")


@dataclass(frozen=True)
class ParetoDay:
    """One day of a merchant battery: prices and carbon intensity per step."""

    asset: StorageAsset
    step_h: float
    prices: np.ndarray
    carbon: np.ndarray

    def problem(self) -> DispatchProblem:
        """The dispatch problem (no load, no PV: imports charge, exports discharge)."""
        return DispatchProblem.build(
            self.asset, self.step_h, import_price=self.prices, carbon=self.carbon
        )

    def objectives(self, charge: np.ndarray, discharge: np.ndarray) -> np.ndarray:
        """(..., 3) cost, CO2 and throughput of flows (..., T)."""
        net = charge - discharge
        return np.stack(
            [
                net @ self.prices * self.step_h,
                net @ self.carbon * self.step_h,
                (charge + discharge).sum(axis=-1) * self.step_h,
            ],
            axis=-1,
        )


def exact_front(day: ParetoDay, co2_levels: int = 64, wear_levels: int = 8) -> np.ndarray:
    """Non-dominated (cost, CO2, throughput) points of the epsilon-constraint LPs.

    The bounds run across the payoff table (the cheapest, the least-CO2 and the idle
    plan): CO2 over ``co2_levels`` values from its largest to its smallest value there,
    throughput over ``wear_levels`` from 0 to its largest; each LP minimises cost, and
    the three extreme plans are added.
    """
    problem = day.problem()
    rows = objective_rows(problem)
    cheapest = solve(problem)
    greenest = solve(_reweighted(problem, Objective(cost=1e-6, carbon=1.0)))
    idle = idle_schedule(problem, "least throughput")
    plans = [cheapest, greenest, idle]
    payoff = np.array([day.objectives(p.charge, p.discharge) for p in plans])
    # Augmented: a tiny weight on CO2 and wear makes every solution properly efficient
    # (not merely weakly: equal cost, more CO2), as in AUGMECON.
    span = np.maximum(payoff.max(axis=0) - payoff.min(axis=0), 1e-9)
    tiny = 1e-4 * span[0]
    augmented = DispatchProblem(
        **{
            **problem.__dict__,
            "asset": problem.asset.model_copy(update={"degradation_cost_per_kwh": tiny / span[2]}),
            "objective": Objective(cost=1.0, carbon=tiny / span[1]),
        }
    )
    for co2 in np.linspace(payoff[:, 1].max(), payoff[:, 1].min(), co2_levels):
        for wear in np.linspace(0.0, payoff[:, 2].max(), wear_levels):
            plan = solve(augmented, limits=[(rows["co2"], co2), (rows["throughput"], wear)])
            if plan.status == "optimal":
                plans.append(plan)
    points = np.array([day.objectives(p.charge, p.discharge) for p in plans])
    return non_dominated(points)


def _reweighted(problem: DispatchProblem, objective: Objective) -> DispatchProblem:
    return DispatchProblem(**{**problem.__dict__, "objective": objective})


def non_dominated(points: np.ndarray) -> np.ndarray:
    """The points no other point dominates (all objectives minimised), duplicates once.

    >>> non_dominated(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0]])).tolist()
    [[1.0, 2.0], [2.0, 1.0]]
    """
    unique = np.unique(np.round(points, 9), axis=0)
    dominated = np.zeros(len(unique), dtype=bool)
    for start in range(0, len(unique), 256):  # blocks keep the comparison cube small
        block = unique[start : start + 256, None, :]
        dominated[start : start + 256] = np.any(
            np.all(unique <= block, axis=2) & np.any(unique < block, axis=2), axis=1
        )
    return unique[~dominated]


def merge_front(front: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The non-dominated points of a non-dominated ``front`` and new ``points``.

    Only comparisons with the new points are made, so an archive grows in linear time.

    >>> merge_front(np.array([[1.0, 3.0], [3.0, 1.0]]), np.array([[2.0, 2.0], [4.0, 4.0]])).tolist()
    [[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]
    """
    new = non_dominated(points)
    if not len(front):
        return new

    def beaten(targets: np.ndarray, by: np.ndarray) -> np.ndarray:
        t, b = targets[:, None, :], by[None, :, :]
        return np.any(np.all(b <= t, axis=2) & np.any(b < t, axis=2), axis=1)

    new = new[~beaten(new, front)]
    new = new[~np.any(np.all(np.isclose(new[:, None, :], front[None]), axis=2), axis=1)]
    return np.unique(np.vstack([front[~beaten(front, new)], new]), axis=0)


def repair(x: np.ndarray, day: ParetoDay) -> tuple[np.ndarray, np.ndarray]:
    """Feasible (charge, discharge) of candidate powers ``x`` (pop, T) for a day.

    The day starts and ends at the asset's target SOC (see :func:`repair_flows`).
    """
    target = day.asset.soc_target
    return repair_flows(x, day.asset, day.step_h, target, target)


def repair_flows(
    x: np.ndarray, a: StorageAsset, h: float, start: float, end: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Feasible (charge, discharge) of candidate powers ``x`` (pop, T) in [-1, 1].

    ``x`` is the share of the power limit: positive discharges, negative charges. Flows
    are clipped step by step to the SOC limits from SOC ``start``, then the end SOC is
    brought to ``end`` (None: left where it lands) from the last step backwards, within
    the power limits and never taking any later SOC outside its limits. Every returned
    schedule keeps the SOC within limits and ends at ``end`` whenever the power limits
    allow it.
    """
    pop, steps = x.shape
    low, high = a.soc_min * a.capacity_kwh, a.soc_max * a.capacity_kwh
    eta_c, eta_d = a.charge_efficiency, a.discharge_efficiency
    # Stored-energy change per step: + eta_c h charge, - h discharge / eta_d.
    up_max = a.charge_kw * eta_c * h
    down_max = a.discharge_kw * h / eta_d if eta_d > 0 else 0.0
    delta = np.where(
        np.clip(x, -1, 1) < 0, -np.clip(x, -1, 0) * up_max, -np.clip(x, 0, 1) * down_max
    )
    energy = np.full(pop, min(max(start * a.capacity_kwh, low), high))
    soc = np.empty((pop, steps))
    for t in range(steps):
        delta[:, t] = np.clip(delta[:, t], low - energy, high - energy)
        energy = energy + delta[:, t]
        soc[:, t] = energy
    goal = soc[:, -1].copy() if end is None else np.full(pop, end * a.capacity_kwh)
    for t in range(steps - 1, -1, -1):
        need = goal - soc[:, -1]  # > 0: store more; < 0: draw more
        later = soc[:, t:]
        more = np.minimum(need, np.minimum(up_max - delta[:, t], (high - later).min(axis=1)))
        less = np.maximum(need, np.maximum(-down_max - delta[:, t], (low - later).max(axis=1)))
        change = np.where(need > 0, np.maximum(more, 0), np.minimum(less, 0))
        delta[:, t] += change
        soc[:, t:] += change[:, None]
    charge = np.where(delta > 0, delta / (eta_c * h) if eta_c > 0 else 0.0, 0.0)
    discharge = np.where(delta < 0, -delta * eta_d / h, 0.0)
    return charge, discharge


Flows = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def flow_search(
    steps: int,
    asset: StorageAsset,
    flows: Flows,
    score: Callable[[np.ndarray, np.ndarray], np.ndarray],
    objectives: int,
) -> tuple[Any, Any]:
    """A pymoo problem over powers (pop, ``steps``) in [-1, 1] and its repair operator.

    ``flows`` makes candidates feasible (charge, discharge); ``score`` gives their
    (pop, ``objectives``) values. The repair writes the feasible powers back, so offspring
    inherit feasible genes.
    """
    from pymoo.core.problem import Problem
    from pymoo.core.repair import Repair

    class _Flows(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=steps, n_obj=objectives, xl=-1.0, xu=1.0)

        def _evaluate(self, x: np.ndarray, out: dict[str, Any], *args: Any, **kw: Any) -> None:
            out["F"] = score(*flows(x))

    class _Repair(Repair):
        def _do(self, problem: Any, x: np.ndarray, **kwargs: Any) -> np.ndarray:
            charge, discharge = flows(np.asarray(x, dtype=float))
            power = np.where(charge > 0, -charge / max(asset.charge_kw, 1e-12), 0.0)
            return np.where(discharge > 0, discharge / max(asset.discharge_kw, 1e-12), power)

    return _Flows(), _Repair()


def _day_search(day: ParetoDay, objectives: tuple[str, ...]) -> tuple[Any, Any]:
    columns = [OBJECTIVES.index(o) for o in objectives]
    return flow_search(
        len(day.prices),
        day.asset,
        lambda x: repair(x, day),
        lambda charge, discharge: day.objectives(charge, discharge)[:, columns],
        len(columns),
    )


def ga_front(
    day: ParetoDay, population: int = 200, generations: int = 400, seed: int = 1
) -> np.ndarray:
    """NSGA-II's non-dominated (cost, CO2, throughput) points over ``generations``.

    An external archive keeps every non-dominated point any generation found (crowding
    drops points from the population that no later point dominates; the archive keeps
    them), as elitist multi-objective searches report their fronts.
    """
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.callback import Callback
    from pymoo.optimize import minimize

    class _Archive(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.points = np.empty((0, len(OBJECTIVES)))

        def notify(self, algorithm: Any) -> None:
            self.points = merge_front(self.points, algorithm.pop.get("F"))

    archive = _Archive()
    problem, repair_ = _day_search(day, OBJECTIVES)
    algorithm = NSGA2(pop_size=population, repair=repair_)
    minimize(problem, algorithm, ("n_gen", generations), seed=seed, callback=archive)
    return archive.points


def ga_min_cost(
    day: ParetoDay,
    algorithm: str = "de",
    population: int = 100,
    generations: int = 1500,
    seed: int = 1,
) -> float:
    """The lowest cost a single-objective evolutionary search finds (repaired: feasible).

    ``de``: differential evolution (DE/rand/1/bin), the real-coded member of the family;
    ``ga``: a plain GA (tournament selection, SBX crossover, polynomial mutation).
    """
    from pymoo.algorithms.soo.nonconvex.de import DE
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.optimize import minimize

    problem, repair_ = _day_search(day, ("cost",))
    search = (
        DE(pop_size=population, repair=repair_)
        if algorithm == "de"
        else GA(pop_size=population, repair=repair_, eliminate_duplicates=True)
    )
    result = minimize(problem, search, ("n_gen", generations), seed=seed)
    charge, discharge = repair(np.atleast_2d(result.X), day)
    return float(day.objectives(charge, discharge)[:, 0].min())


def front_quality(found: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """Hypervolume of ``found`` over that of ``exact`` and IGD+ of ``found`` to ``exact``.

    Objectives are scaled to [0, 1] by the exact front's ideal and nadir points; the
    reference point is 1.1 in each.
    """
    from pymoo.indicators.hv import HV
    from pymoo.indicators.igd_plus import IGDPlus

    ideal, nadir = exact.min(axis=0), exact.max(axis=0)
    span = np.where(nadir - ideal > 1e-12, nadir - ideal, 1.0)

    def scaled(points: np.ndarray) -> np.ndarray:
        return (points - ideal) / span

    hv = HV(ref_point=np.full(exact.shape[1], 1.1))
    return {
        "hypervolume_ratio": float(hv(scaled(found)) / hv(scaled(exact))),
        "igd_plus": float(IGDPlus(scaled(exact))(scaled(found))),
    }
