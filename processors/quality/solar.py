"""Solar elevation from time and position (pvlib's analytical formulas, vectorised)."""

import numpy as np
from pvlib import solarposition

__all__ = ["solar_elevation_deg"]

_DAY_MS = 86_400_000


def solar_elevation_deg(
    ts_ms: np.ndarray, latitude: float | np.ndarray, longitude: float | np.ndarray
) -> np.ndarray:
    """Solar elevation (no refraction) in degrees at each time (about 1 degree accurate).

    Args:
        ts_ms: epoch milliseconds UTC.
        latitude: degrees north (a scalar, or one per time).
        longitude: degrees east (a scalar, or one per time).

    >>> noon = np.array([1719144000000])  # 2024-06-23 12:00 UTC, Greenwich
    >>> round(float(solar_elevation_deg(noon, 51.48, 0.0)[0]))
    62
    >>> float(solar_elevation_deg(noon + 12 * 3_600_000, 51.48, 0.0)[0]) < 0
    True
    """
    ts = np.asarray(ts_ms, dtype=np.float64)
    day_of_year = _day_of_year(ts)
    declination = solarposition.declination_spencer71(day_of_year)
    equation_of_time = solarposition.equation_of_time_spencer71(day_of_year)  # minutes
    utc_hours = (ts % _DAY_MS) / 3_600_000.0
    hour_angle = np.radians(15.0 * (utc_hours - 12.0) + longitude + equation_of_time / 4.0)
    zenith = solarposition.solar_zenith_analytical(np.radians(latitude), hour_angle, declination)
    return np.asarray(90.0 - np.degrees(zenith))


def _day_of_year(ts: np.ndarray) -> np.ndarray:
    """Day of the year (1-based) of epoch milliseconds."""
    days = ts.astype(np.int64).astype("datetime64[ms]").astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    return np.asarray((days - years).astype(np.int64) + 1, dtype=np.float64)
