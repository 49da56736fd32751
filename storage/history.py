"""Loading recent fused history from the database (to warm a restarted forecaster)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from processors.fuse import FusedStep, WeatherAsOf
from processors.resample import ClosedStep
from processors.timestamps import ms_to_datetime
from processors.validate import WeatherObservation as Observation
from storage.models import Reading, WeatherObservation

__all__ = ["load_fused_history", "weather_between"]


def weather_between(
    session: Session, site_id: str, start_ms: int, end_ms: int
) -> list[Observation]:
    """A site's stored weather observations in ``[start_ms, end_ms]``, oldest first."""
    rows = session.execute(
        select(WeatherObservation.ts, WeatherObservation.variables)
        .where(
            WeatherObservation.site_id == site_id,
            WeatherObservation.ts >= ms_to_datetime(start_ms),
            WeatherObservation.ts <= ms_to_datetime(end_ms),
        )
        .order_by(WeatherObservation.ts)
    )
    return [Observation(site_id, int(ts.timestamp() * 1000), dict(v)) for ts, v in rows]


def load_fused_history(
    session: Session, site_id: str, since_ms: int, until_ms: int, step_ms: int, staleness_ms: int
) -> list[FusedStep]:
    """Steps of a site in ``[since_ms, until_ms]`` joined with weather as the stream does."""
    since, until = ms_to_datetime(since_ms), ms_to_datetime(until_ms)
    weather = WeatherAsOf(staleness_ms)
    for observation in weather_between(
        session, site_id, since_ms - staleness_ms, until_ms + step_ms
    ):
        weather.add(observation)
    steps: dict[int, dict[str, float]] = {}
    for ts, quantity, value in session.execute(
        select(Reading.ts, Reading.quantity, Reading.value).where(
            Reading.site_id == site_id, Reading.ts >= since, Reading.ts <= until
        )
    ):
        steps.setdefault(int(ts.timestamp() * 1000), {})[quantity] = value
    return [
        weather.fuse(ClosedStep(site_id, ts, values, {}), step_ms)
        for ts, values in sorted(steps.items())
    ]
