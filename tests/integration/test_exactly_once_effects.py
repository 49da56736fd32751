"""A batch redelivered after a crash leaves the database as if it came once (real Postgres)."""

import json

import pytest
from sqlalchemy import text

from gridbrain.settings import Settings
from gridbrain.storage.queries import stage_counts
from gridbrain.storage.transaction import InputPosition, run_batch
from gridbrain.streams.cleaning import CleaningStage
from gridbrain.streams.envelope import RawMessage
from gridbrain.streams.topics import SENSOR_READINGS
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration

TS = 1_700_000_100_000


def message(offset: int, value: float, ts: int = TS) -> RawMessage:
    reading = {"site_id": "eo-site", "quantity": "load", "value": value, "unit": "kW", "ts": ts}
    body = json.dumps([reading, {**reading, "unit": "??"}]).encode()
    return RawMessage(InputPosition(SENSOR_READINGS, 99, offset), b"eo-site", body)


def test_redelivered_batch_is_applied_once(services: Services) -> None:
    messages = [message(0, 10.0), message(1, 10.0)]
    partitions = {(SENSOR_READINGS, 99)}
    first = CleaningStage(Settings())
    run_batch(services.sessions, "eo", partitions, lambda tx: first.handle_readings(tx, messages))
    # A new worker (fresh memory) receives the same batch again, then one new message.
    second = CleaningStage(Settings())
    again = [*messages, message(2, 40.0, TS + 60_000)]
    emitted = run_batch(
        services.sessions, "eo", partitions, lambda tx: second.handle_readings(tx, again)
    )
    with services.sessions() as session:
        row = session.execute(
            text("SELECT value, n_samples FROM readings WHERE site_id = 'eo-site'")
        ).one()
        dead = session.execute(
            text('SELECT count(*) FROM dead_letters WHERE "partition" = 99')
        ).scalar_one()
        counts = stage_counts(session)[("eo", SENSOR_READINGS)]
    # Offsets 0 and 1 are applied once; offset 1 repeats the reading of offset 0.
    assert (row.value, row.n_samples) == (25.0, 2)
    assert dead == 3
    assert counts == {
        "messages": 3,
        "received": 6,
        "processed": 2,
        "duplicates": 1,
        "deadlettered": 3,
        "redelivered": 2,  # offsets 0 and 1, seen again and skipped
    }
    assert len([e for e in emitted if e.topic == "deadletter"]) == 1
