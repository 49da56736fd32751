"""A dispatch problem (inputs per step) and its schedule (decisions per step)."""

from dataclasses import dataclass, field

import numpy as np

from gridbrain.processors.dispatch.assets import Objective, StorageAsset

__all__ = ["DispatchProblem", "Schedule"]


def _series(name: str, values: np.ndarray | list[float] | float, steps: int) -> np.ndarray:
    array = np.broadcast_to(np.asarray(values, dtype=np.float64), (steps,)).copy()
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has missing or infinite values")
    return array


@dataclass(frozen=True)
class DispatchProblem:
    """One plan to make: ``steps`` steps of ``step_h`` hours from ``start_ms``.

    Power in kW (or any power unit), prices per kWh (per energy unit of that power times
    hours), carbon intensity in kg per kWh. ``soc_initial`` / ``soc_final`` are fractions
    of the capacity; ``soc_final`` None leaves the end free.
    """

    asset: StorageAsset
    step_h: float
    load: np.ndarray
    pv: np.ndarray
    import_price: np.ndarray
    export_price: np.ndarray
    carbon: np.ndarray
    soc_initial: float
    soc_final: float | None
    objective: Objective = field(default_factory=Objective)
    start_ms: int = 0

    @classmethod
    def build(
        cls,
        asset: StorageAsset,
        step_h: float,
        *,
        load: np.ndarray | list[float] | float = 0.0,
        pv: np.ndarray | list[float] | float = 0.0,
        import_price: np.ndarray | list[float] | float,
        export_price: np.ndarray | list[float] | float | None = None,
        carbon: np.ndarray | list[float] | float = 0.0,
        soc_initial: float | None = None,
        soc_final: float | None = None,
        objective: Objective | None = None,
        start_ms: int = 0,
        steps: int | None = None,
    ) -> "DispatchProblem":
        """Checked arrays of one length (scalars broadcast).

        The export price is the import price unless given (a market); SOC start and end
        default to the asset's target.
        """
        if not step_h > 0:
            raise ValueError(f"step_h must be positive, got {step_h}")
        if steps is None:
            steps = max(np.size(v) for v in (load, pv, import_price, carbon))
        sell = import_price if export_price is None else export_price
        start = asset.soc_target if soc_initial is None else soc_initial
        end = asset.soc_target if soc_final is None else soc_final
        return cls(
            asset=asset,
            step_h=step_h,
            load=_series("load", load, steps),
            pv=np.maximum(_series("pv", pv, steps), 0.0),
            import_price=_series("import_price", import_price, steps),
            export_price=_series("export_price", sell, steps),
            carbon=_series("carbon", carbon, steps),
            soc_initial=start,
            soc_final=end,
            objective=objective or Objective(),
            start_ms=start_ms,
        )

    @property
    def steps(self) -> int:
        """Number of steps."""
        return len(self.load)


@dataclass(frozen=True)
class Schedule:
    """Decisions per step (kW; ``soc`` at the end of each step, fraction of capacity).

    ``objective`` is in the objective's units (EUR for cost); ``status`` is the solver's
    word (``optimal``, or ``fallback`` with ``reason`` saying why); ``binaries`` says
    whether the plan needed the no-simultaneous-charge-and-discharge binaries.
    """

    charge: np.ndarray
    discharge: np.ndarray
    grid_import: np.ndarray
    grid_export: np.ndarray
    curtail: np.ndarray
    soc: np.ndarray
    objective: float
    status: str
    solve_s: float
    binaries: bool = False
    reason: str = ""

    def cost(
        self,
        problem: DispatchProblem,
        buy: np.ndarray | None = None,
        sell: np.ndarray | None = None,
    ) -> float:
        """Energy cost (imports minus exports plus degradation) at the problem's prices.

        Or at others: a plan made on forecast prices scored at the actual ones (``sell``
        defaults to ``buy`` when only that is given, a market).
        """
        if buy is None:
            buy, sell = problem.import_price, problem.export_price
        elif sell is None:
            sell = buy
        energy = buy @ self.grid_import - sell @ self.grid_export
        wear = problem.asset.degradation_cost_per_kwh * (self.charge.sum() + self.discharge.sum())
        return float((energy + wear) * problem.step_h)
