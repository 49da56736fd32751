"""A plan lived through: the battery does as planned where it can, the grid takes the rest."""

from dataclasses import dataclass

import numpy as np

from gridbrain.processors.dispatch.assets import StorageAsset
from gridbrain.processors.dispatch.problem import Schedule

__all__ = ["Lived", "follow"]


@dataclass(frozen=True)
class Lived:
    """What following a plan cost (EUR), and the SOC it ended at (share of capacity)."""

    cost: float
    soc: float


def follow(
    plan: Schedule,
    asset: StorageAsset,
    soc: float,
    load: np.ndarray,
    pv: np.ndarray,
    buy: np.ndarray,
    sell: np.ndarray,
    step_h: float,
) -> Lived:
    """Follow ``plan`` (its first ``len(load)`` steps) under the actual ``load`` and ``pv``.

    The planned charge, discharge and PV curtailment happen as far as the battery can:
    within its SOC limits from ``soc`` on, and, for a battery that may not export
    (``discharge_to_grid`` False, as its inverter enforces), discharging no more than the
    actual load. The grid imports or exports the rest at ``buy`` / ``sell`` (per kWh,
    power in kW).
    """
    steps = len(load)
    energy = soc * asset.capacity_kwh
    low, high = asset.soc_min * asset.capacity_kwh, asset.soc_max * asset.capacity_kwh
    eta_c, eta_d = asset.charge_efficiency, asset.discharge_efficiency
    charge, discharge = np.zeros(steps), np.zeros(steps)
    for t in range(steps):
        out = plan.discharge[t] if asset.discharge_to_grid else min(plan.discharge[t], load[t])
        if out > 0 and eta_d > 0:
            discharge[t] = max(min(out, (energy - low) * eta_d / step_h), 0.0)
            energy -= discharge[t] * step_h / eta_d
        if plan.charge[t] > 0 and eta_c > 0:
            charge[t] = max(min(plan.charge[t], (high - energy) / (eta_c * step_h)), 0.0)
            energy += charge[t] * eta_c * step_h
    curtail = np.minimum(plan.curtail[:steps], pv)
    net = load - (pv - curtail) + charge - discharge
    cost = (buy @ np.maximum(net, 0.0) - sell @ np.maximum(-net, 0.0)) * step_h
    return Lived(float(cost), energy / asset.capacity_kwh)
