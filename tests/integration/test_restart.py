"""A worker restart in the middle of a stream gives the same tables and outputs as none.

The clean stage saves each site's open steps, duplicate keys and quality-check state with
every batch, and weather goes to Postgres; a new stage (a restarted worker, fresh memory)
restores them from there.
"""

import json
from functools import partial

import pytest
from sqlalchemy import text

from gridbrain.processors.sites import SiteProfile
from gridbrain.settings import Settings
from gridbrain.storage.sites import upsert_sites
from gridbrain.storage.transaction import InputPosition, run_batch
from gridbrain.streams.cleaning import CleaningStage
from gridbrain.streams.envelope import Emission, RawMessage
from gridbrain.streams.topics import FUSED, SENSOR_READINGS, WEATHER_FORECASTS, WEATHER_OBSERVATIONS
from gridbrain.streams.weather import WeatherStage
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

T0 = 1_700_000_100_000  # on a 15-minute boundary


def stream(site: str, partition: int) -> list[RawMessage]:
    """Three hours of 1-minute readings, 5 per message; one message is sent twice."""
    bodies = []
    for start in range(0, 180, 5):
        bodies.append(
            [
                {
                    "site_id": site,
                    "quantity": "load",
                    "value": float(m % 7),
                    "unit": "kW",
                    "ts": T0 + m * 60_000,
                }
                for m in range(start, start + 5)
            ]
        )
    bodies.insert(19, bodies[18])  # the resend lands right after the restart point
    return [
        RawMessage(
            InputPosition(SENSOR_READINGS, partition, i), site.encode(), json.dumps(b).encode()
        )
        for i, b in enumerate(bodies)
    ]


def apply(services: Services, stage: CleaningStage, messages: list[RawMessage]) -> list[Emission]:
    partitions = {(m.position.topic, m.position.partition) for m in messages}
    return run_batch(
        services.sessions,
        "restart-test",
        partitions,
        lambda tx: stage.handle_readings(tx, messages),
    )


def outcome(services: Services, site: str, emitted: list[Emission]) -> tuple[object, ...]:
    with services.sessions() as session:
        rows = session.execute(
            text("SELECT ts, value, n_samples FROM readings WHERE site_id = :s ORDER BY ts"),
            {"s": site},
        ).all()
        dead = session.execute(
            text("SELECT count(*) FROM dead_letters WHERE payload LIKE :p"), {"p": f"%{site}%"}
        ).scalar_one()
    steps = [step["ts_ms"] for e in emitted if e.topic == FUSED for step in json.loads(e.value)]
    return [tuple(r) for r in rows], steps, dead


def test_restart_resumes_exactly(services: Services) -> None:
    settings = Settings()
    once = stream("rs-once", 301)
    uninterrupted = apply(services, CleaningStage(settings), once)

    split = stream("rs-split", 302)
    before = apply(services, CleaningStage(settings), split[:19])
    after = apply(services, CleaningStage(settings), split[19:])  # a new worker

    rows_once, steps_once, dead_once = outcome(services, "rs-once", uninterrupted)
    rows_split, steps_split, dead_split = outcome(services, "rs-split", before + after)
    assert rows_split == rows_once
    assert steps_split == steps_once
    assert len(steps_once) == 11  # 12 steps, the last still open
    assert dead_split == dead_once == 0
    with services.sessions() as session:
        counts = dict(
            session.execute(
                text(
                    "SELECT counter, sum(value) FROM stage_counts WHERE stage = 'restart-test' "
                    "AND counter = 'duplicates' GROUP BY counter"
                )
            ).all()
        )
    assert counts == {"duplicates": 10}  # the resent message, once in each run


def _messages(topic: str, partition: int, key: str, bodies: list[list[dict]]) -> list[RawMessage]:
    return [
        RawMessage(InputPosition(topic, partition, i), key.encode(), json.dumps(b).encode())
        for i, b in enumerate(bodies)
    ]


def test_check_state_survives_a_restart(services: Services) -> None:
    """A sensor stuck for 30 h is flagged identically with or without a restart at 20 h."""
    hour = 3_600_000

    def stuck(site: str, partition: int) -> list[RawMessage]:
        bodies = [
            [{"site_id": site, "quantity": "load", "value": 5.0, "unit": "kW", "ts": T0 + h * hour}]
            for h in range(30)
        ]
        return _messages(SENSOR_READINGS, partition, site, bodies)

    settings = Settings()
    apply(services, CleaningStage(settings), stuck("rs-flat-once", 303))
    split = stuck("rs-flat-split", 304)
    apply(services, CleaningStage(settings), split[:20])
    apply(services, CleaningStage(settings), split[20:])
    with services.sessions() as session:
        counts = dict(
            session.execute(
                text(
                    "SELECT site_id, sum(value) FROM quality_counts WHERE \"check\" = 'flatline' "
                    "AND site_id LIKE 'rs-flat-%' GROUP BY site_id"
                )
            ).all()
        )
    assert counts == {"rs-flat-once": 6, "rs-flat-split": 6}  # hours 24..29


def test_station_weather_and_forecasts_reach_a_restarted_worker(services: Services) -> None:
    """Weather handled by one worker is fused by a fresh one, from a named and a near station."""
    settings = Settings()
    with services.sessions.begin() as session:
        upsert_sites(
            session,
            [
                SiteProfile(
                    site_id="rs-station", kind="weather_station", latitude=52.0, longitude=5.0
                ),
                SiteProfile(site_id="rs-named", weather_station="rs-station"),
                SiteProfile(site_id="rs-near", latitude=52.1, longitude=5.1),
                SiteProfile(site_id="rs-far", latitude=10.0, longitude=5.1),
            ],
        )
    weather = WeatherStage(settings)
    observations = [
        [
            {"station_id": "rs-station", "ts": T0 + m * 60_000, "ghi_wm2": float(m)}
            for m in range(0, 60, 10)
        ]
    ]
    forecasts = [
        [
            {
                "station_id": "rs-station",
                "issued_at": T0 - 3_600_000,
                "valid_at": T0 + m * 60_000,
                "ghi_wm2": 100.0 + m,
            }
            for m in range(0, 60, 15)
        ]
    ]
    for topic, handler, bodies in (
        (WEATHER_OBSERVATIONS, weather.handle_observations, observations),
        (WEATHER_FORECASTS, weather.handle_forecasts, forecasts),
    ):
        messages = _messages(topic, 305, "rs-station", bodies)
        run_batch(
            services.sessions,
            "restart-weather",
            {(topic, 305)},
            partial(handler, messages=messages),
        )

    readings = [
        [
            {
                "site_id": site,
                "quantity": "pv_power",
                "value": 1.0,
                "unit": "kW",
                "ts": T0 + m * 60_000,
            }
            for site in ("rs-named", "rs-near", "rs-far")
            for m in (0, 40)
        ]
    ]
    emitted = apply(
        services, CleaningStage(settings), _messages(SENSOR_READINGS, 306, "x", readings)
    )
    fused = {
        step["site_id"]: step for e in emitted if e.topic == FUSED for step in json.loads(e.value)
    }
    for site in ("rs-named", "rs-near"):
        step = fused[site]  # the step [T0, T0 + 15 min) closed by the reading at 40 min
        assert step["station_id"] == "rs-station"
        assert step["weather"] == {"ghi_wm2": 10.0} and step["weather_age_ms"] == 5 * 60_000
        assert step["weather_forecast"] == {"ghi_wm2": 115.0}
    assert fused["rs-far"]["station_id"] == "rs-far" and fused["rs-far"]["weather"] == {}
