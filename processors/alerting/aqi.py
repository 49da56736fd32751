"""US EPA Air Quality Index (breakpoints of the May 2024 technical assistance document).

Concentrations arrive in the platform's canonical units (ug/m3; CO in mg/m3) and are
converted to the units of the breakpoint tables (ppm or ppb at 25 degC for gases), then
truncated to the table's precision before the lookup, as the EPA prescribes. The AQI is
the linear interpolation within the band, rounded to the nearest integer.
"""

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AQI_TABLES",
    "CATEGORIES",
    "CO_8H",
    "NO2_1H",
    "O3_1H",
    "O3_8H",
    "PM10_24H",
    "PM25_24H",
    "SO2_1H",
    "SO2_24H",
    "AqiBand",
    "AqiIndicator",
    "AqiTable",
    "aqi",
    "pm25_aqi",
]

#: AQI categories by the upper end of their index range.
CATEGORIES: tuple[tuple[int, str], ...] = (
    (50, "Good"),
    (100, "Moderate"),
    (150, "Unhealthy for Sensitive Groups"),
    (200, "Unhealthy"),
    (300, "Very Unhealthy"),
    (500, "Hazardous"),
)

_MOLAR_VOLUME = 24.45  # litres per mole at 25 degC and 1 atm


@dataclass(frozen=True)
class AqiBand:
    """One row of a breakpoint table, in the table's unit."""

    c_low: float
    c_high: float
    i_low: int
    i_high: int

    @property
    def name(self) -> str:
        """The AQI category of the band."""
        return next(name for top, name in CATEGORIES if self.i_high <= top)


@dataclass(frozen=True)
class AqiTable:
    """Breakpoints of one pollutant and averaging period.

    Attributes:
        pollutant: short name, e.g. ``pm25``.
        averaging: averaging period the breakpoints apply to, e.g. ``24h``.
        unit: unit of the breakpoints.
        decimals: precision the concentration is truncated to.
        per_canonical: breakpoint units per canonical unit (e.g. ppb per ug/m3).
        bands: the rows, lowest first.
    """

    pollutant: str
    averaging: str
    unit: str
    decimals: int
    per_canonical: float
    bands: tuple[AqiBand, ...]


def _bands(rows: tuple[tuple[float, float, int, int], ...]) -> tuple[AqiBand, ...]:
    return tuple(AqiBand(*row) for row in rows)


PM25_24H = AqiTable("pm25", "24h", "ug/m3", 1, 1.0, _bands((
    (0.0, 9.0, 0, 50), (9.1, 35.4, 51, 100), (35.5, 55.4, 101, 150),
    (55.5, 125.4, 151, 200), (125.5, 225.4, 201, 300), (225.5, 325.4, 301, 500),
)))  # fmt: skip
PM10_24H = AqiTable("pm10", "24h", "ug/m3", 0, 1.0, _bands((
    (0, 54, 0, 50), (55, 154, 51, 100), (155, 254, 101, 150),
    (255, 354, 151, 200), (355, 424, 201, 300), (425, 604, 301, 500),
)))  # fmt: skip
O3_8H = AqiTable("o3", "8h", "ppm", 3, _MOLAR_VOLUME / 47.9982 / 1000, _bands((
    (0.000, 0.054, 0, 50), (0.055, 0.070, 51, 100), (0.071, 0.085, 101, 150),
    (0.086, 0.105, 151, 200), (0.106, 0.200, 201, 300),
)))  # fmt: skip
O3_1H = AqiTable("o3", "1h", "ppm", 3, _MOLAR_VOLUME / 47.9982 / 1000, _bands((
    (0.125, 0.164, 101, 150), (0.165, 0.204, 151, 200), (0.205, 0.404, 201, 300),
    (0.405, 0.604, 301, 500),
)))  # fmt: skip
CO_8H = AqiTable("co", "8h", "ppm", 1, _MOLAR_VOLUME / 28.010, _bands((
    (0.0, 4.4, 0, 50), (4.5, 9.4, 51, 100), (9.5, 12.4, 101, 150),
    (12.5, 15.4, 151, 200), (15.5, 30.4, 201, 300), (30.5, 50.4, 301, 500),
)))  # fmt: skip
SO2_1H = AqiTable("so2", "1h", "ppb", 0, _MOLAR_VOLUME / 64.066, _bands((
    (0, 35, 0, 50), (36, 75, 51, 100), (76, 185, 101, 150), (186, 304, 151, 200),
)))  # fmt: skip
SO2_24H = AqiTable("so2", "24h", "ppb", 0, _MOLAR_VOLUME / 64.066, _bands((
    (305, 604, 201, 300), (605, 1004, 301, 500),
)))  # fmt: skip
NO2_1H = AqiTable("no2", "1h", "ppb", 0, _MOLAR_VOLUME / 46.0055, _bands((
    (0, 53, 0, 50), (54, 100, 51, 100), (101, 360, 101, 150), (361, 649, 151, 200),
    (650, 1249, 201, 300), (1250, 2049, 301, 500),
)))  # fmt: skip


@dataclass(frozen=True)
class AqiIndicator:
    """How a pollutant's AQI is computed from a series: which table, which average.

    Attributes:
        table: the breakpoints.
        averaging: ``nowcast`` (EPA NowCast of 12 hourly means, PM) or ``mean`` of the
            last ``hours`` hourly means.
        hours: hours of the average.
        above: the indicator that applies where this table is undefined above its top
            (8-hour ozone over 0.200 ppm: 1-hour ozone; 1-hour SO2 over 304 ppb: 24-hour).
    """

    table: AqiTable
    averaging: Literal["nowcast", "mean"]
    hours: int
    above: str | None = None


def aqi(table: AqiTable, concentration: float) -> tuple[int, AqiBand] | None:
    """AQI and band of a concentration in the canonical unit (ug/m3; CO mg/m3).

    Returns None where the table does not define the AQI: below its first band (1-hour
    ozone under 0.125 ppm) or above its last (e.g. 8-hour ozone over 0.200 ppm, where the
    1-hour table applies; 1-hour SO2 over 304 ppb, where the 24-hour average applies).
    Above the top of a table that reaches 500 the AQI is reported as 500.

    >>> aqi(PM25_24H, 35.5)[0], aqi(PM25_24H, 35.5)[1].name
    (101, 'Unhealthy for Sensitive Groups')
    """
    scale = 10**table.decimals
    c = math.floor(max(concentration, 0.0) * table.per_canonical * scale + 1e-9) / scale
    if c < table.bands[0].c_low:
        return None
    for band in table.bands:
        if c <= band.c_high:
            index = (band.i_high - band.i_low) / (band.c_high - band.c_low) * (c - band.c_low)
            return math.floor(index + band.i_low + 0.5), band
    top = table.bands[-1]
    return (500, top) if top.i_high == 500 else None


def pm25_aqi(concentration: float) -> tuple[int, AqiBand]:
    """AQI and band of a PM2.5 concentration in ug/m3 (24-hour or NowCast).

    >>> pm25_aqi(9.0)[0]
    50
    """
    result = aqi(PM25_24H, concentration)
    if result is None:  # pragma: no cover - the PM2.5 table starts at zero
        raise ValueError(concentration)
    return result


#: The indicators a rule's ``aqi_table`` can name.
AQI_TABLES: dict[str, AqiIndicator] = {
    "pm25": AqiIndicator(PM25_24H, "nowcast", 12),
    "pm25_24h": AqiIndicator(PM25_24H, "mean", 24),
    "pm10": AqiIndicator(PM10_24H, "nowcast", 12),
    "pm10_24h": AqiIndicator(PM10_24H, "mean", 24),
    "o3_8h": AqiIndicator(O3_8H, "mean", 8, above="o3_1h"),
    "o3_1h": AqiIndicator(O3_1H, "mean", 1),
    "co_8h": AqiIndicator(CO_8H, "mean", 8),
    "no2_1h": AqiIndicator(NO2_1H, "mean", 1),
    "so2_1h": AqiIndicator(SO2_1H, "mean", 1, above="so2_24h"),
    "so2_24h": AqiIndicator(SO2_24H, "mean", 24),
}
