"""The forecasting stage forecasts every due instant from its own complete window, whether
the steps come live, in one catch-up batch spanning days, or after a restart.

In process against the real PostgreSQL: the clean and weather stages store the readings
and weather a restarted forecaster reloads.
"""

import json
import math

import numpy as np
import pytest
from sqlalchemy import text

from gridbrain.settings import Settings
from gridbrain.storage.transaction import InputPosition
from gridbrain.streams.cleaning import CleaningStage
from gridbrain.streams.envelope import Emission, RawMessage
from gridbrain.streams.forecasting import ForecastingStage
from gridbrain.streams.topics import FORECASTS, FUSED, SENSOR_READINGS, WEATHER_OBSERVATIONS
from gridbrain.streams.weather import WeatherStage
from tests.integration.conftest import Services, apply_batch

pytestmark = pytest.mark.integration

HOUR, DAY = 3_600_000, 86_400_000
T0 = 1_700_006_400_000  # a midnight (UTC)
DAYS = 6
SETTINGS = Settings(history_days=2, site_idle_evict_minutes=10_000)


def temperature(ts: int) -> float:
    return 10 + 8 * math.sin(2 * math.pi * ((ts % DAY) / DAY - 0.3)) + (ts // DAY % 3)


def fused_stream(services: Services, site: str) -> list[RawMessage]:
    """``DAYS`` days of a temperature-driven load through the clean stage, as fused messages."""
    weather = WeatherStage(SETTINGS)
    clean = CleaningStage(SETTINGS, weather)
    observations = [
        RawMessage(
            InputPosition(WEATHER_OBSERVATIONS, 0, h),
            site.encode(),
            json.dumps(
                [
                    {
                        "site_id": site,
                        "ts": T0 + h * HOUR,
                        "temperature_c": temperature(T0 + h * HOUR),
                    }
                ]
            ).encode(),
        )
        for h in range(DAYS * 24 + 1)
    ]
    apply_batch(services, f"{site}-weather", weather.handle_observations, observations)
    readings = [
        RawMessage(
            InputPosition(SENSOR_READINGS, 0, i),
            site.encode(),
            json.dumps(
                [
                    {"site_id": site, "quantity": "load", "unit": "kW", "ts": ts,
                     "value": 50 + 3 * temperature(ts) + (ts // 300_000) % 5}
                    for ts in range(T0 + i * HOUR, T0 + (i + 1) * HOUR, 300_000)
                ]
            ).encode(),
        )
        for i in range(DAYS * 24)
    ]  # fmt: skip
    emitted: list[Emission] = []
    for day in range(DAYS):
        batch = readings[day * 24 : (day + 1) * 24]
        emitted += apply_batch(services, f"{site}-clean", clean.handle_readings, batch)
    return [
        RawMessage(InputPosition(FUSED, 0, i), e.key, e.value)
        for i, e in enumerate(e for e in emitted if e.topic == FUSED)
    ]


def forecasts(emitted: list[Emission]) -> dict[str, list[float]]:
    out = {}
    for e in emitted:
        if e.topic == FORECASTS:
            data = json.loads(e.value)
            out[data["issued_at"]] = [h["p50"] for h in data["horizons"]]
    return out


def run(services: Services, stage: str, batches: list[list[RawMessage]]) -> dict[str, list[float]]:
    forecaster = ForecastingStage(SETTINGS)
    emitted: list[Emission] = []
    for batch in batches:
        emitted += apply_batch(services, stage, forecaster.handle, batch)
    return forecasts(emitted)


def assert_same(got: dict[str, list[float]], expected: dict[str, list[float]]) -> None:
    assert sorted(got) == sorted(expected)
    for issued, values in expected.items():
        assert np.allclose(got[issued], values), issued


def test_one_catch_up_batch_forecasts_every_due_instant_as_live(services: Services) -> None:
    steps = fused_stream(services, "fc-catchup")
    n_steps = sum(len(json.loads(m.value)) for m in steps)
    assert n_steps > 2 * 192  # one batch holds more steps of the site than its ring keeps
    live = run(services, "fc-live", [[m] for m in steps])
    caught_up = run(services, "fc-batch", [steps])
    assert len(live) >= (DAYS - 1) * 24
    assert_same(caught_up, live)


def test_a_restarted_forecaster_reloads_the_weather_of_its_windows(services: Services) -> None:
    steps = fused_stream(services, "fc-restart")
    live = run(services, "fc-r-live", [[m] for m in steps])
    half = len(steps) // 2
    first = run(services, "fc-r-first", [[m] for m in steps[:half]])
    restarted = run(services, "fc-r-second", [[m] for m in steps[half:]])  # fresh memory
    assert_same({**first, **restarted}, live)


def bands(emitted: list[Emission]) -> dict[str, list[tuple[float, float]]]:
    out = {}
    for e in emitted:
        if e.topic == FORECASTS:
            data = json.loads(e.value)
            out[data["issued_at"]] = [(h["p10"], h["p90"]) for h in data["horizons"]]
    return out


def test_catch_up_and_live_track_the_same_bands(services: Services) -> None:
    """The band trackers see the same issues whether the days come live or in one batch."""
    live_steps = fused_stream(services, "fc-band-a")
    batch_steps = fused_stream(services, "fc-band-b")
    emitted: dict[str, list[Emission]] = {"live": [], "batch": []}
    forecaster = ForecastingStage(SETTINGS)
    for m in live_steps:
        emitted["live"] += apply_batch(services, "fc-band-live", forecaster.handle, [m])
    emitted["batch"] = apply_batch(
        services, "fc-band-batch", ForecastingStage(SETTINGS).handle, batch_steps
    )
    live, caught_up = bands(emitted["live"]), bands(emitted["batch"])
    assert sorted(live) == sorted(caught_up) and len(live) >= (DAYS - 1) * 24
    for issued, values in live.items():
        assert np.allclose(caught_up[issued], values), issued
    with services.sessions() as session:
        trackers = session.execute(
            text("SELECT site_id, low, high FROM band_trackers WHERE site_id LIKE 'fc-band-%'")
        ).all()
    assert {r.site_id for r in trackers} == {"fc-band-a", "fc-band-b"}
    assert all(r.low != 0 or r.high != 0 for r in trackers)  # the bands did move
