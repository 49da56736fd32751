"""Typed configuration of the quality checks: defaults per quantity, overrides per site."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_CHECKS", "QualityConfig", "QuantityChecks"]


class QuantityChecks(BaseModel):
    """The checks of one quantity (``None`` switches a check off).

    Attributes:
        spike_window: how many preceding readings of the series the Hampel median uses.
        spike_threshold: a reading is a spike when it lies more than this many robust
            standard deviations (1.4826 * MAD) from the median of the preceding readings.
        spike_min_deviation: ... and more than this far from it, in canonical units (so a
            nearly constant series does not turn every small step into a spike).
        max_rate_per_minute: largest plausible change per minute since the previous
            accepted reading, in canonical units.
        flatline_minutes: a series that stays constant (within ``flatline_tolerance`` from
            one reading to the next) for at least this long is a stuck sensor.
        flatline_tolerance: largest change between readings that still counts as constant.
        night_elevation_deg: readings at (or near) zero while the sun is below this elevation
            are normal (PV at night) and never part of a flatline. Needs the site's latitude
            and longitude; without them every zero reading is treated this way.
        max_gap_minutes: gaps in the resampled series up to this long are interpolated and
            flagged; longer gaps stay missing and are flagged.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spike_window: int = Field(default=12, ge=3)
    spike_threshold: float | None = Field(default=None, gt=0)
    spike_min_deviation: float = Field(default=0.0, ge=0)
    max_rate_per_minute: float | None = Field(default=None, gt=0)
    flatline_minutes: float | None = Field(default=None, gt=0)
    flatline_tolerance: float = Field(default=0.0, ge=0)
    night_elevation_deg: float | None = None
    max_gap_minutes: float = Field(default=60.0, ge=0)


_Q = QuantityChecks

#: Defaults per quantity, tuned on the shared data sets (see the README's quality section).
#: Power series ramp for real reasons (clouds, gusts, switching), so they get no spike or
#: rate check; a stuck value is their failure mode. Load follows OpenSTEF's 24 h flatliner
#: rule. Pollutant spikes need a sudden jump of hundreds of ug/m3: plumes arrive fast.
DEFAULT_CHECKS: dict[str, QuantityChecks] = {
    "load": _Q(flatline_minutes=24 * 60, max_gap_minutes=60),
    "pv_power": _Q(flatline_minutes=5 * 60, night_elevation_deg=0.0, max_gap_minutes=45),
    "wind_power": _Q(flatline_minutes=24 * 60, max_gap_minutes=60),
    "pm25": _Q(spike_threshold=8, spike_min_deviation=200, flatline_minutes=24 * 60),
    "pm10": _Q(spike_threshold=8, spike_min_deviation=300, flatline_minutes=24 * 60),
    "no2": _Q(spike_threshold=8, spike_min_deviation=200, flatline_minutes=24 * 60),
    "o3": _Q(spike_threshold=8, spike_min_deviation=200, flatline_minutes=24 * 60),
    "so2": _Q(spike_threshold=8, spike_min_deviation=200, flatline_minutes=24 * 60),
    "co": _Q(spike_threshold=8, spike_min_deviation=5, flatline_minutes=24 * 60),
    "temperature": _Q(
        spike_threshold=8, spike_min_deviation=12, max_rate_per_minute=0.5, flatline_minutes=12 * 60
    ),
    "wind_speed": _Q(flatline_minutes=12 * 60, flatline_tolerance=0.0),
    "irradiance": _Q(flatline_minutes=5 * 60, night_elevation_deg=0.0, max_gap_minutes=45),
    "humidity": _Q(max_rate_per_minute=2.0, flatline_minutes=24 * 60),
    # Water probes drift slowly; a frozen probe reads exactly the same value for hours.
    "ph": _Q(max_rate_per_minute=0.5, flatline_minutes=12 * 60),
    "turbidity": _Q(flatline_minutes=24 * 60),
    "dissolved_oxygen": _Q(max_rate_per_minute=1.0, flatline_minutes=12 * 60),
    "conductivity": _Q(flatline_minutes=12 * 60),
    "salinity": _Q(flatline_minutes=12 * 60),
    "chlorophyll": _Q(flatline_minutes=24 * 60),
    # Prices jump for real (scarcity hours) and repeat for hours: gaps are their only check.
    "price": _Q(max_gap_minutes=60),
}


class QualityConfig(BaseModel):
    """Per-quantity defaults of the checks; a site's overrides are applied on top.

    >>> config = QualityConfig()
    >>> config.for_series("pv_power", {"flatline_minutes": 120}).flatline_minutes
    120.0
    >>> config.for_series("pv_power").flatline_minutes
    300.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    quantities: dict[str, QuantityChecks] = Field(default_factory=lambda: dict(DEFAULT_CHECKS))

    def for_series(self, quantity: str, override: dict[str, Any] | None = None) -> QuantityChecks:
        """The checks of a quantity, with a site's overrides (validated) if it has any."""
        base = self.quantities.get(quantity, _Q())
        if not override:
            return base
        return QuantityChecks.model_validate({**base.model_dump(), **override})
