"""The PM2.5 rule: US EPA AQI above "Moderate" (35.5 ug/m3 and up)."""

from processors.alerting.aqi import PM25_24H, pm25_aqi
from processors.alerting.lifecycle import AlertEvent, AlertRule, AlertState

__all__ = ["describe", "pm25_usg_rule"]


def pm25_usg_rule(for_steps: int) -> AlertRule:
    """PM2.5 at or above the "Unhealthy for Sensitive Groups" breakpoint (AQI > 100).

    It recovers below 30 ug/m3, well inside "Moderate", so readings that hover around
    35.5 do not make the alert flap.
    """
    return AlertRule(
        name="pm25_aqi_usg",
        quantity="pm25",
        threshold=PM25_24H.bands[2].c_low,
        recovery=30.0,
        for_steps=for_steps,
        severity="warning",
    )


def describe(event: AlertEvent) -> str:
    """A human-readable line for an alert event."""
    aqi, band = pm25_aqi(event.value)
    if event.state is AlertState.RESOLVED:
        return f"PM2.5 back below 30 ug/m3 at {event.site_id} (peak {event.value:.1f}, AQI {aqi})"
    return f"PM2.5 {event.value:.1f} ug/m3 at {event.site_id}: AQI {aqi} ({band.name})"
