"""Rerouted readings (``gridbrain.rerouted``): applied once, and hostile envelopes isolated.

In process against the real PostgreSQL, as the worker runs the clean stage.
"""

import json

import pytest
from sqlalchemy import text

from gridbrain.settings import Settings
from gridbrain.storage.transaction import InputPosition
from gridbrain.streams.cleaning import CleaningStage
from gridbrain.streams.envelope import RawMessage
from gridbrain.streams.topics import REROUTED, SENSOR_READINGS
from tests.integration.conftest import Services, apply_batch

pytestmark = pytest.mark.integration

TS = 1_700_000_100_000
SITE = "rr-site"


def reading(minute: int) -> dict[str, object]:
    return {"site_id": SITE, "quantity": "load", "value": 5.0, "unit": "kW",
            "ts": TS + minute * 60_000}  # fmt: skip


def envelope(origin_offset: int, minutes: range) -> bytes:
    items = [reading(m) for m in minutes]
    return json.dumps({"origin": [SENSOR_READINGS, 3, origin_offset, 0], "items": items}).encode()


def test_a_resent_reroute_is_applied_once_and_bad_envelopes_are_dead_lettered(
    services: Services,
) -> None:
    stage = CleaningStage(Settings())
    hostile = [
        b'{"origin": [1, 2], "items": []}',
        b'{"origin": ["sensor.readings", "x", 5, 0], "items": []}',
        b'{"items": [1, 2, 3]}',
        b"[1, 2]",
    ]
    nul_site = [reading(99) | {"site_id": "a\x00"}]
    hostile.append(json.dumps({"origin": [SENSOR_READINGS, 3, 7, 1], "items": nul_site}).encode())
    values = [envelope(7, range(5)), envelope(7, range(5)), *hostile, envelope(8, range(5, 10))]
    batch = [
        RawMessage(InputPosition(REROUTED, 0, offset), SITE.encode(), value)
        for offset, value in enumerate(values)
    ]
    apply_batch(services, "rr", stage.handle_readings, batch[:3])
    apply_batch(
        services, "rr", CleaningStage(Settings()).handle_readings, batch[3:]
    )  # a restarted worker
    with services.sessions() as session:
        stored = session.scalar(
            text("SELECT sum(n_samples) FROM readings WHERE site_id = :s"), {"s": SITE}
        )
        reasons = session.execute(
            text('SELECT "offset", reason FROM dead_letters WHERE topic = :t ORDER BY 1'),
            {"t": REROUTED},
        ).all()
    assert stored == 10  # the resent envelope (offset 1) counted once
    assert [tuple(r) for r in reasons] == [
        (2, "bad_rerouted_message"),
        (3, "bad_rerouted_message"),
        (4, "bad_rerouted_message"),
        (5, "bad_rerouted_message"),
        (6, "bad_site_id"),
    ]
