"""From a site's newest forecasts and its profile to the dispatch problem of its next plan."""

import numpy as np

from gridbrain.processors.alerting.site_state import ForecastIssue
from gridbrain.processors.dispatch.assets import Tariff
from gridbrain.processors.dispatch.problem import DispatchProblem
from gridbrain.processors.sites import SiteProfile

__all__ = ["DISPATCH_QUANTITIES", "plan_problem"]

#: Forecast quantities a plan uses; a new forecast of any of them re-plans the site.
DISPATCH_QUANTITIES = ("load", "pv_power", "price")

_MWH_PER_KWH = 1e-3


def _on_grid(issue: ForecastIssue | None, grid: np.ndarray) -> np.ndarray | None:
    """The issue's p50 at the grid's instants (held flat beyond its ends); None: no issue."""
    if issue is None:
        return None
    targets = np.asarray(issue.targets_ms, dtype=np.float64)
    values = np.asarray(issue.quantiles["p50"], dtype=np.float64)
    known = np.isfinite(values)
    if not known.any():
        return None
    return np.interp(grid.astype(np.float64), targets[known], values[known])


def plan_problem(
    profile: SiteProfile,
    issues: dict[str, ForecastIssue],
    start_ms: int,
    step_ms: int,
    steps: int,
    soc_initial: float | None,
    market: ForecastIssue | None = None,
) -> tuple[DispatchProblem, list[str]]:
    """The problem of ``steps`` steps from ``start_ms`` and what it had to assume.

    ``issues`` are the site's newest forecasts by quantity (load and PV in kW, price in
    EUR/MWh); ``market`` is the newest ``price`` forecast of the tariff's price site. A
    missing load or PV forecast counts as zero, named in the returned notes (PV only for
    sites with PV: kind ``pv`` or a capacity); with no price forecast the tariff's flat
    prices apply.

    Raises:
        ValueError: the site has no storage asset.
    """
    if profile.storage is None:
        raise ValueError(f"site {profile.site_id} has no storage asset")
    tariff = profile.tariff or Tariff()
    grid = start_ms + np.arange(steps, dtype=np.int64) * step_ms
    notes = []
    series = {}
    has_pv = profile.kind == "pv" or profile.capacity_kw is not None
    for quantity in ("load", "pv_power"):
        values = _on_grid(issues.get(quantity), grid)
        if values is None and (quantity == "load" or has_pv):
            notes.append(f"no {quantity} forecast: taken as 0")
        series[quantity] = np.zeros(steps) if values is None else values
    price = _on_grid(market or issues.get("price"), grid)
    if price is None:
        buy = np.full(steps, tariff.import_price)
        sell = np.full(steps, tariff.export_price)
    else:
        wholesale = price * _MWH_PER_KWH * tariff.market_share
        buy, sell = wholesale + tariff.import_adder, wholesale + tariff.export_adder
    problem = DispatchProblem.build(
        profile.storage,
        step_ms / 3_600_000,
        load=series["load"],
        pv=series["pv_power"],
        import_price=buy,
        export_price=sell,
        carbon=tariff.carbon_kg_per_kwh,
        soc_initial=soc_initial,
        objective=profile.objective,
        start_ms=int(start_ms),
        steps=steps,
    )
    return problem, notes
