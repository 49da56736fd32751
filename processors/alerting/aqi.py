"""US EPA Air Quality Index for PM2.5 (2024 revision of the breakpoints).

Concentrations are truncated to one decimal (ug/m3) before the breakpoint lookup, as
the EPA technical assistance document prescribes.
"""

import math
from dataclasses import dataclass

__all__ = ["PM25_BREAKPOINTS", "AqiCategory", "pm25_aqi"]


@dataclass(frozen=True)
class AqiCategory:
    """One AQI band: concentration and index ranges, name."""

    c_low: float
    c_high: float
    i_low: int
    i_high: int
    name: str


#: PM2.5 (24-hour, ug/m3) breakpoints, effective 2024-05-06.
PM25_BREAKPOINTS: tuple[AqiCategory, ...] = (
    AqiCategory(0.0, 9.0, 0, 50, "Good"),
    AqiCategory(9.1, 35.4, 51, 100, "Moderate"),
    AqiCategory(35.5, 55.4, 101, 150, "Unhealthy for Sensitive Groups"),
    AqiCategory(55.5, 125.4, 151, 200, "Unhealthy"),
    AqiCategory(125.5, 225.4, 201, 300, "Very Unhealthy"),
    AqiCategory(225.5, 325.4, 301, 500, "Hazardous"),
)


def pm25_aqi(concentration: float) -> tuple[int, AqiCategory]:
    """AQI value and category of a PM2.5 concentration in ug/m3.

    Above the top breakpoint the AQI is reported as 500 (beyond the index).

    >>> pm25_aqi(35.5)[0], pm25_aqi(35.5)[1].name
    (101, 'Unhealthy for Sensitive Groups')
    >>> pm25_aqi(9.0)[0]
    50
    """
    c = math.floor(max(concentration, 0.0) * 10) / 10
    for band in PM25_BREAKPOINTS:
        if c <= band.c_high:
            index = (band.i_high - band.i_low) / (band.c_high - band.c_low) * (
                c - band.c_low
            ) + band.i_low
            return round(index), band
    return 500, PM25_BREAKPOINTS[-1]
