"""Weather observations and forecasts: storing them and reading them back for fusion."""

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.processors.weather import WeatherForecast, WeatherObservation
from gridbrain.storage.bulk import execute_batch
from gridbrain.storage.models import WeatherForecast as ForecastRow
from gridbrain.storage.models import WeatherObservation as ObservationRow

__all__ = ["add_weather", "add_weather_forecasts", "forecasts_between", "weather_between"]


def _ms(ts: object) -> int:
    return int(ts.timestamp() * 1000)  # type: ignore[attr-defined]


def add_weather(session: Session, observations: Iterable[WeatherObservation]) -> None:
    """Store weather observations; a repeat of (site, ts) merges its variables."""
    latest: dict[tuple[str, int], WeatherObservation] = {}
    for o in observations:
        latest[(o.site_id, o.ts_ms)] = o
    rows = [
        (o.site_id, ms_to_datetime(o.ts_ms), json.dumps(o.variables), o.description)
        for o in latest.values()
    ]
    execute_batch(
        session,
        "INSERT INTO weather_observations (site_id, ts, variables, description) VALUES %s "
        "ON CONFLICT (site_id, ts) DO UPDATE SET "
        "variables = weather_observations.variables || EXCLUDED.variables, "
        "description = COALESCE(EXCLUDED.description, weather_observations.description)",
        rows,
    )


def add_weather_forecasts(session: Session, forecasts: Iterable[WeatherForecast]) -> None:
    """Store weather forecasts; a repeat of (site, issued, valid) merges its variables."""
    latest: dict[tuple[str, int, int], WeatherForecast] = {}
    for f in forecasts:
        latest[(f.site_id, f.issued_ms, f.valid_ms)] = f
    rows = [
        (
            f.site_id,
            ms_to_datetime(f.issued_ms),
            ms_to_datetime(f.valid_ms),
            json.dumps(f.variables),
        )
        for f in latest.values()
    ]
    execute_batch(
        session,
        "INSERT INTO weather_forecasts (site_id, issued_at, valid_at, variables) VALUES %s "
        "ON CONFLICT (site_id, issued_at, valid_at) DO UPDATE SET "
        "variables = weather_forecasts.variables || EXCLUDED.variables",
        rows,
    )


Windows = Mapping[str, tuple[int, int]]


def _within(
    site: InstrumentedAttribute[str], ts: InstrumentedAttribute[datetime], windows: Windows
) -> ColumnElement[bool]:
    """SQL: the row's site has a window, and its time lies in it (bounds included)."""
    return or_(
        *(
            and_(site == s, ts >= ms_to_datetime(lo), ts <= ms_to_datetime(hi))
            for s, (lo, hi) in windows.items()
        )
    )


def weather_between(session: Session, windows: Windows) -> list[WeatherObservation]:
    """Observations of each site (or station) in its ``(start_ms, end_ms)``, oldest first.

    One query for every site, whatever their windows.
    """
    if not windows:
        return []
    rows = session.execute(
        select(ObservationRow.site_id, ObservationRow.ts, ObservationRow.variables)
        .where(_within(ObservationRow.site_id, ObservationRow.ts, windows))
        .order_by(ObservationRow.ts)
    )
    return [WeatherObservation(site, _ms(ts), dict(v)) for site, ts, v in rows]


def forecasts_between(session: Session, windows: Windows) -> list[WeatherForecast]:
    """Forecasts of each site (or station) valid in its ``(start_ms, end_ms)``."""
    if not windows:
        return []
    rows = session.execute(
        select(
            ForecastRow.site_id, ForecastRow.issued_at, ForecastRow.valid_at, ForecastRow.variables
        ).where(_within(ForecastRow.site_id, ForecastRow.valid_at, windows))
    )
    return [WeatherForecast(site, _ms(i), _ms(v), dict(x)) for site, i, v, x in rows]
