"""Loading recent fused history from the database (to warm a restarted forecaster)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from processors.fuse import FusedStep, WeatherAsOf
from processors.resample import ClosedStep
from processors.timestamps import ms_to_datetime
from processors.validate import WeatherObservation as Observation
from storage.models import Reading, WeatherObservation

__all__ = ["load_fused_history"]


def load_fused_history(
    session: Session, site_id: str, since_ms: int, until_ms: int, step_ms: int, staleness_ms: int
) -> list[FusedStep]:
    """Steps of a site in ``[since_ms, until_ms]`` joined with weather as the stream does."""
    since, until = ms_to_datetime(since_ms), ms_to_datetime(until_ms)
    weather = WeatherAsOf(staleness_ms)
    rows = session.execute(
        select(WeatherObservation.ts, WeatherObservation.variables)
        .where(
            WeatherObservation.site_id == site_id,
            WeatherObservation.ts >= ms_to_datetime(since_ms - staleness_ms),
            WeatherObservation.ts <= ms_to_datetime(until_ms + step_ms),
        )
        .order_by(WeatherObservation.ts)
    )
    for ts, variables in rows:
        weather.add(Observation(site_id, int(ts.timestamp() * 1000), dict(variables)))
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
