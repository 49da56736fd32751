"""Quantities the platform accepts, their canonical units, unit factors and physical ranges."""

from dataclasses import dataclass, field

__all__ = ["FORECAST_QUANTITIES", "QUANTITIES", "WEATHER_VARIABLES", "Quantity"]

# Molar volume of an ideal gas at 25 degC and 1 atm, litres per mole (US EPA convention).
_MOLAR_VOLUME_25C = 24.45


def _ppb_to_ugm3(molar_mass: float) -> float:
    return molar_mass / _MOLAR_VOLUME_25C


@dataclass(frozen=True)
class Quantity:
    """One measurable quantity.

    Attributes:
        name: name used in readings, e.g. ``pv_power``.
        unit: canonical unit that clean series are stored in.
        factors: accepted unit -> multiplicative factor to the canonical unit.
        offsets: accepted unit -> additive offset applied after the factor (temperatures).
        low: smallest physically plausible value, canonical unit.
        high: largest physically plausible value, canonical unit.
    """

    name: str
    unit: str
    factors: dict[str, float]
    low: float
    high: float
    offsets: dict[str, float] = field(default_factory=dict)

    def to_canonical(self, value: float, unit: str) -> float:
        """Convert ``value`` given in ``unit`` to the canonical unit (KeyError if unknown)."""
        return value * self.factors[unit] + self.offsets.get(unit, 0.0)


_POWER = {"W": 1e-3, "kW": 1.0, "MW": 1e3}
_GAS_UGM3 = {"ug/m3": 1.0, "µg/m3": 1.0, "mg/m3": 1e3}

QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("load", "kW", _POWER, -1e7, 1e8),
        # Up to a national fleet (Spain's solar and wind reach 6 and 17 GW).
        Quantity("pv_power", "kW", _POWER, -10.0, 1e8),
        Quantity("wind_power", "kW", _POWER, -100.0, 1e8),
        # Market prices: EU harmonised clearing limits are -500 and 4,000 EUR/MWh day ahead
        # and +-9,999 intraday.
        Quantity("price", "EUR/MWh", {"EUR/MWh": 1.0, "EUR/kWh": 1e3}, -10_000.0, 10_000.0),
        Quantity("pm25", "ug/m3", {"ug/m3": 1.0, "µg/m3": 1.0}, 0.0, 1000.0),
        Quantity("pm10", "ug/m3", {"ug/m3": 1.0, "µg/m3": 1.0}, 0.0, 2000.0),
        Quantity("no2", "ug/m3", {**_GAS_UGM3, "ppb": _ppb_to_ugm3(46.0055)}, 0.0, 2000.0),
        Quantity("o3", "ug/m3", {**_GAS_UGM3, "ppb": _ppb_to_ugm3(47.9982)}, 0.0, 1000.0),
        Quantity("so2", "ug/m3", {**_GAS_UGM3, "ppb": _ppb_to_ugm3(64.066)}, 0.0, 2000.0),
        Quantity(
            "co",
            "mg/m3",
            {"mg/m3": 1.0, "ug/m3": 1e-3, "µg/m3": 1e-3, "ppm": 28.010 / _MOLAR_VOLUME_25C},
            0.0,
            100.0,
        ),
        Quantity(
            "wind_speed",
            "m/s",
            {"m/s": 1.0, "km/h": 1 / 3.6, "mph": 0.44704, "kn": 0.514444},
            0.0,
            75.0,
        ),
        Quantity(
            "temperature",
            "degC",
            {"degC": 1.0, "degF": 5 / 9, "K": 1.0},
            -90.0,
            60.0,
            offsets={"degF": -32 * 5 / 9, "K": -273.15},
        ),
        Quantity("irradiance", "W/m2", {"W/m2": 1.0, "kW/m2": 1e3}, -10.0, 1600.0),
        Quantity("humidity", "%", {"%": 1.0, "fraction": 100.0}, 0.0, 100.0),
        # Water quality: pH (unitless), turbidity (nephelometric units), dissolved oxygen.
        Quantity("ph", "pH", {"pH": 1.0}, 0.0, 14.0),
        Quantity("turbidity", "NTU", {"NTU": 1.0, "FNU": 1.0}, 0.0, 4000.0),
        Quantity("dissolved_oxygen", "mg/L", {"mg/L": 1.0, "ppm": 1.0}, 0.0, 25.0),
        Quantity("conductivity", "mS/cm", {"mS/cm": 1.0, "uS/cm": 1e-3, "µS/cm": 1e-3}, 0.0, 100.0),
        Quantity("salinity", "PSU", {"PSU": 1.0, "ppt": 1.0}, 0.0, 50.0),
        Quantity("chlorophyll", "ug/L", {"ug/L": 1.0, "µg/L": 1.0, "mg/m3": 1.0}, 0.0, 500.0),
    )
}

#: Quantities the forecasting stage produces forecasts for.
FORECAST_QUANTITIES: tuple[str, ...] = (
    "load",
    "pv_power",
    "wind_power",
    "pm25",
    "price",
    "dissolved_oxygen",
)

#: Weather observation variables: name -> (low, high) physical range.
WEATHER_VARIABLES: dict[str, tuple[float, float]] = {
    "temperature_c": (-90.0, 60.0),
    "ghi_wm2": (-10.0, 1600.0),
    "wind_speed_ms": (0.0, 75.0),
    "wind_dir_deg": (0.0, 360.0),
    "humidity_pct": (0.0, 100.0),
    "pressure_hpa": (850.0, 1090.0),
    "cloud_cover_pct": (0.0, 100.0),
}
