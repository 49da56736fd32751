"""Weather observations and forecasts: storing them and reading them back for fusion."""

import json
from collections.abc import Iterable, Mapping

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.processors.weather import WeatherForecast, WeatherObservation
from gridbrain.storage.bulk import execute_batch

__all__ = [
    "WINDOWS",
    "add_weather",
    "add_weather_forecasts",
    "forecasts_between",
    "weather_between",
    "window_params",
]


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
    """Store weather forecasts; a repeat of (site, issued, valid) merges its variables.

    A repeat's description replaces the stored one; a repeat without keeps it.
    """
    latest: dict[tuple[str, int, int], WeatherForecast] = {}
    for f in forecasts:
        latest[(f.site_id, f.issued_ms, f.valid_ms)] = f
    rows = [
        (
            f.site_id,
            ms_to_datetime(f.issued_ms),
            ms_to_datetime(f.valid_ms),
            json.dumps(f.variables),
            f.description,
        )
        for f in latest.values()
    ]
    execute_batch(
        session,
        "INSERT INTO weather_forecasts (site_id, issued_at, valid_at, variables, description) "
        "VALUES %s ON CONFLICT (site_id, issued_at, valid_at) DO UPDATE SET "
        "variables = weather_forecasts.variables || EXCLUDED.variables, "
        "description = COALESCE(EXCLUDED.description, weather_forecasts.description)",
        rows,
    )


Windows = Mapping[str, tuple[int, int]]

#: The windows as a relation w(site_id, lo, hi): one plain statement whatever their number.
WINDOWS = (
    "unnest(CAST(:sites AS text[]), CAST(:lo AS timestamptz[]), CAST(:hi AS timestamptz[])) "
    "AS w(site_id, lo, hi)"
)


def window_params(windows: Windows) -> dict[str, list[object]]:
    """The parameters of :data:`WINDOWS`."""
    return {
        "sites": list(windows),
        "lo": [ms_to_datetime(lo) for lo, _ in windows.values()],
        "hi": [ms_to_datetime(hi) for _, hi in windows.values()],
    }


def weather_between(session: Session, windows: Windows) -> list[WeatherObservation]:
    """Observations of each site (or station) in its ``(start_ms, end_ms)``, oldest first.

    One query for every site, whatever their windows (bounds included).
    """
    if not windows:
        return []
    rows = session.execute(
        text(
            "SELECT o.site_id, o.ts, o.variables, o.description FROM weather_observations o "
            f"JOIN {WINDOWS} ON o.site_id = w.site_id AND o.ts BETWEEN w.lo AND w.hi "
            "ORDER BY o.ts"
        ),
        window_params(windows),
    )
    return [WeatherObservation(site, _ms(ts), dict(v), d) for site, ts, v, d in rows]


def forecasts_between(session: Session, windows: Windows) -> list[WeatherForecast]:
    """Forecasts of each site (or station) valid in its ``(start_ms, end_ms)``."""
    if not windows:
        return []
    rows = session.execute(
        text(
            "SELECT f.site_id, f.issued_at, f.valid_at, f.variables, f.description "
            f"FROM weather_forecasts f JOIN {WINDOWS} "
            "ON f.site_id = w.site_id AND f.valid_at BETWEEN w.lo AND w.hi"
        ),
        window_params(windows),
    )
    return [WeatherForecast(site, _ms(i), _ms(v), dict(x), d) for site, i, v, x, d in rows]
