"""Weather read back for fusion, on the real PostgreSQL: each station's own window."""

import pytest

from gridbrain.processors.weather import WeatherForecast, WeatherObservation
from gridbrain.storage.weather import (
    add_weather,
    add_weather_forecasts,
    forecasts_between,
    weather_between,
)
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration
HOUR = 3_600_000
T0 = 978_307_200_000  # 2001-01-01: rows no other test writes


def test_each_station_gets_the_rows_in_its_own_window_bounds_included(
    services: Services,
) -> None:
    with services.sessions() as session:
        add_weather(
            session,
            [
                WeatherObservation(s, T0 + h * HOUR, {"t": h})
                for s in ("wx-a", "wx-b")
                for h in range(6)
            ],
        )
        add_weather_forecasts(
            session,
            [WeatherForecast("wx-a", T0, T0 + h * HOUR, {"t": h}) for h in range(6)],
        )
        windows = {"wx-a": (T0 + HOUR, T0 + 3 * HOUR), "wx-b": (T0 + 5 * HOUR, T0 + 9 * HOUR)}
        observed = weather_between(session, windows)
        forecast = forecasts_between(session, windows | {"wx-none": (T0, T0 + HOUR)})
        session.rollback()
    assert [(o.site_id, o.ts_ms - T0) for o in observed] == [
        ("wx-a", HOUR),
        ("wx-a", 2 * HOUR),
        ("wx-a", 3 * HOUR),
        ("wx-b", 5 * HOUR),
    ]
    assert sorted(f.valid_ms - T0 for f in forecast) == [HOUR, 2 * HOUR, 3 * HOUR]
    assert weather_between(services.sessions(), {}) == []


def test_descriptions_are_stored_merged_and_read_back(services: Services) -> None:
    t = T0 + 100 * HOUR
    with services.sessions() as session:
        add_weather(session, [WeatherObservation("wx-t", t, {"t": 1.0}, "light rain, mist")])
        add_weather(session, [WeatherObservation("wx-t", t, {"u": 2.0})])  # no text: kept
        add_weather_forecasts(session, [WeatherForecast("wx-t", t, t + HOUR, {}, "fog")])
        add_weather_forecasts(session, [WeatherForecast("wx-t", t, t + HOUR, {"t": 3.0})])
        add_weather_forecasts(session, [WeatherForecast("wx-t", t, t + 2 * HOUR, {}, "fog")])
        add_weather_forecasts(
            session, [WeatherForecast("wx-t", t, t + 2 * HOUR, {}, "sky is clear")]
        )
        window = {"wx-t": (t, t + 3 * HOUR)}
        (observed,) = weather_between(session, window)
        forecast = sorted(forecasts_between(session, window), key=lambda f: f.valid_ms)
        session.rollback()
    assert (observed.variables, observed.description) == ({"t": 1.0, "u": 2.0}, "light rain, mist")
    assert [(f.variables, f.description) for f in forecast] == [
        ({"t": 3.0}, "fog"),
        ({}, "sky is clear"),
    ]
