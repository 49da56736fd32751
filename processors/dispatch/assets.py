"""What a site can dispatch and what its energy costs: storage assets and tariffs."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Objective", "StorageAsset", "Tariff"]


class StorageAsset(BaseModel):
    """A battery (or any store) a site can charge and discharge.

    Power in kW, energy in kWh, SOC as a fraction of ``capacity_kwh`` (limits, not a
    rescaling, as in EMHASS). An efficiency of 0 makes that leg unusable.

    Attributes:
        capacity_kwh: nominal energy capacity.
        charge_kw: largest charging power (AC side).
        discharge_kw: largest discharging power (AC side).
        charge_efficiency: share of the AC charging energy that is stored.
        discharge_efficiency: share of the stored energy that comes out as AC.
        soc_min: lowest allowed SOC.
        soc_max: highest allowed SOC.
        soc_target: SOC a plan ends at (also the start when nothing better is known).
        degradation_cost_per_kwh: cost of each kWh charged or discharged (EUR/kWh).
        grid_import_kw: the connection's import limit (None: unlimited).
        grid_export_kw: the connection's export limit (None: unlimited).
        grid_charging: whether the battery may charge from the grid (else from PV only).
        discharge_to_grid: whether the battery may export (else it serves the load only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity_kwh: float = Field(gt=0)
    charge_kw: float = Field(ge=0)
    discharge_kw: float = Field(ge=0)
    charge_efficiency: float = Field(default=0.95, ge=0, le=1)
    discharge_efficiency: float = Field(default=0.95, ge=0, le=1)
    soc_min: float = Field(default=0.0, ge=0, le=1)
    soc_max: float = Field(default=1.0, ge=0, le=1)
    soc_target: float = Field(default=0.5, ge=0, le=1)
    degradation_cost_per_kwh: float = Field(default=0.0, ge=0)
    grid_import_kw: float | None = Field(default=None, ge=0)
    grid_export_kw: float | None = Field(default=None, ge=0)
    grid_charging: bool = True
    discharge_to_grid: bool = True

    @model_validator(mode="after")
    def _soc_order(self) -> Self:
        if not self.soc_min <= self.soc_target <= self.soc_max:
            raise ValueError(
                f"need soc_min <= soc_target <= soc_max, got {self.soc_min}, "
                f"{self.soc_target}, {self.soc_max}"
            )
        return self


class Tariff(BaseModel):
    """What the site pays for imports and earns for exports.

    The import price is the market price (the newest ``price`` forecast of
    ``price_site``, EUR/MWh) times ``market_share`` plus ``import_adder``, or
    ``import_price`` alone when no market price is known; the export price likewise.
    Prices here are EUR/kWh.

    Attributes:
        price_site: site whose ``price`` forecasts are the market price (default: the
            site itself, when it has any).
        import_price: flat import price when no market price is used.
        export_price: flat export price when no market price is used.
        market_share: factor on the market price (1 = the wholesale price).
        import_adder: network charges and taxes added to the market price on import.
        export_adder: added to the market price on export (negative: a fee).
        carbon_kg_per_kwh: grid carbon intensity for the carbon objective.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    price_site: str | None = None
    import_price: float = 0.25
    export_price: float = 0.0
    market_share: float = 1.0
    import_adder: float = 0.0
    export_adder: float = 0.0
    carbon_kg_per_kwh: float = Field(default=0.25, ge=0)


class Objective(BaseModel):
    """Weights of a dispatch objective (each term in its own unit, summed).

    Attributes:
        cost: weight of the energy cost (EUR) including degradation.
        carbon: weight of the emissions of imports (kg CO2; e.g. a carbon price EUR/kg).
        self_consumption: weight of the energy imported (kWh): 1 alone maximises
            self-consumption of the site's own production.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cost: float = Field(default=1.0, ge=0)
    carbon: float = Field(default=0.0, ge=0)
    self_consumption: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if self.cost + self.carbon + self.self_consumption <= 0:
            raise ValueError("at least one objective weight must be positive")
        return self
