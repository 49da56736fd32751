"""Loading recent fused history from the database (to warm a restarted forecaster)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from processors.fuse import ForecastAsOf, FusedStep, WeatherAsOf, fuse
from processors.resample import ClosedStep
from processors.timestamps import ms_to_datetime
from storage.models import Reading
from storage.weather import forecasts_between, weather_between

__all__ = ["load_fused_history"]


def load_fused_history(
    session: Session,
    site_id: str,
    station_id: str,
    window: tuple[int, int],
    step_ms: int,
    staleness_ms: int,
) -> list[FusedStep]:
    """Steps of a site in ``[since_ms, until_ms]`` joined with weather as the stream does.

    Only measured values are loaded (quality ``ok`` or ``cleaned``), as the stream delivers
    them; interpolation is the forecaster's business.
    """
    since_ms, until_ms = window
    observed, forecast = WeatherAsOf(staleness_ms), ForecastAsOf(staleness_ms)
    windows = {station_id: (since_ms - staleness_ms, until_ms + step_ms)}
    for observation in weather_between(session, windows):
        observed.add(observation)
    for item in forecasts_between(session, windows):
        forecast.add(item)
    steps: dict[int, dict[str, float]] = {}
    for ts, quantity, value in session.execute(
        select(Reading.ts, Reading.quantity, Reading.value).where(
            Reading.site_id == site_id,
            Reading.ts >= ms_to_datetime(since_ms),
            Reading.ts <= ms_to_datetime(until_ms),
            Reading.quality.in_(("ok", "cleaned")),
        )
    ):
        if value is not None:
            steps.setdefault(int(ts.timestamp() * 1000), {})[quantity] = value
    return [
        fuse(
            ClosedStep(site_id, ts, values, dict.fromkeys(values, 1)),
            step_ms,
            station_id,
            observed,
            forecast,
        )
        for ts, values in sorted(steps.items())
    ]
