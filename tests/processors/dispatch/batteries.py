"""Batteries the dispatch tests share."""

from gridbrain.processors.dispatch.assets import StorageAsset

#: 1 kWh, 0.4 kW each way, no losses, SOC 10-90 %, target 50 %: 0.1 kWh table levels.
LOSSLESS = StorageAsset(
    capacity_kwh=1.0,
    charge_kw=0.4,
    discharge_kw=0.4,
    charge_efficiency=1.0,
    discharge_efficiency=1.0,
    soc_min=0.1,
    soc_max=0.9,
    soc_target=0.5,
)
