"""A worker restart in the middle of a stream gives the same tables and outputs as none.

The clean stage saves each site's open steps and duplicate keys with every batch; a new
stage (a restarted worker, fresh memory) restores them from Postgres.
"""

import json

import pytest
from sqlalchemy import text

from gridbrain.settings import Settings
from storage.transaction import InputPosition, run_batch
from streams.cleaning import CleaningStage
from streams.envelope import Emission, RawMessage
from streams.topics import FUSED, SENSOR_READINGS
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
    steps = [json.loads(e.value)["ts_ms"] for e in emitted if e.topic == FUSED]
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
                    "SELECT counter, value FROM stage_counts WHERE stage = 'restart-test' "
                    "AND counter = 'duplicates'"
                )
            ).all()
        )
    assert counts == {"duplicates": 10}  # the resent message, once in each run
