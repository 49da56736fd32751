"""The batch executor's error policy against the real PostgreSQL.

The handlers here write real rows (``sites``) so that the database itself refuses bad
values; published outputs are collected in a list (the broker is exercised by the
integration tests of the whole pipeline).
"""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from gridbrain.storage.transaction import BatchTransaction, InputPosition
from gridbrain.streams.envelope import Emission, RawMessage
from gridbrain.streams.executor import EXIT_STAGE_FAILED, BatchExecutor, StageGroup
from gridbrain.streams.health import WorkerHealth
from gridbrain.streams.policy import Backoff
from tests.integration.conftest import Services

pytestmark = pytest.mark.integration


class Exited(Exception):
    """Stands for the worker process exiting."""


def _exit(code: int) -> None:
    raise Exited(code)


def messages(topic: str, values: list[str]) -> list[RawMessage]:
    return [
        RawMessage(InputPosition(topic, 0, offset), b"k", value.encode())
        for offset, value in enumerate(values)
    ]


def register_sites(tx: BatchTransaction, batch: list[RawMessage]) -> list[Emission]:
    """Each new message names a site to insert; the database refuses over-long ones."""
    for message in batch:
        if tx.is_new(message.position):
            tx.session.execute(
                text("INSERT INTO sites (site_id) VALUES (:s) ON CONFLICT DO NOTHING"),
                {"s": message.value.decode()},
            )
            tx.counts[(message.position.topic, "processed")] += 1
    return [Emission("out", None, m.value) for m in batch]


def new_group() -> StageGroup:
    return StageGroup("t", lambda: None, ThreadPoolExecutor(1))


def run(executor: BatchExecutor, group: StageGroup, stage: str, batch: list[RawMessage]) -> None:
    async def go() -> None:
        await executor.run(group, stage, batch, register_sites)

    asyncio.run(go())


@pytest.fixture
def make_executor(services: Services):  # type: ignore[no-untyped-def]
    def make(health: WorkerHealth | None = None, publish=None) -> BatchExecutor:  # type: ignore[no-untyped-def]
        out: list[Emission] = []

        async def collect(emissions: list[Emission]) -> None:
            out.extend(emissions)

        return BatchExecutor(
            services.sessions,
            publish or collect,
            health or WorkerHealth("test"),
            quarantine_after=3,
            backoff=lambda: Backoff(first_s=0.01, cap_s=0.05),
            exit=_exit,
        )

    return make


def stored(services: Services, prefix: str) -> set[str]:
    with services.sessions() as session:
        rows = session.execute(
            text("SELECT site_id FROM sites WHERE site_id LIKE :p"), {"p": f"{prefix}%"}
        )
        return {r for (r,) in rows}


def dead_letters(services: Services, topic: str) -> list[tuple[int, str, str]]:
    with services.sessions() as session:
        rows = session.execute(
            text(
                'SELECT "offset", reason, detail FROM dead_letters WHERE topic = :t '
                'ORDER BY "offset"'
            ),
            {"t": topic},
        )
        return [(int(o), r, d) for o, r, d in rows]


def test_a_refused_value_is_isolated_and_dead_lettered(services: Services, make_executor) -> None:  # type: ignore[no-untyped-def]
    prefix, topic = f"ex-{uuid.uuid4().hex[:6]}-", f"t-{uuid.uuid4().hex[:8]}"
    values = [f"{prefix}{i}" for i in range(8)]
    values[5] = prefix + "x" * 200  # longer than the column: the database refuses it
    values[6] = prefix + "nul\x00"  # psycopg2 refuses NUL in text
    run(make_executor(), new_group(), "ex", messages(topic, values))
    assert stored(services, prefix) == {v for i, v in enumerate(values) if i not in (5, 6)}
    assert [(o, r) for o, r, _ in dead_letters(services, topic)] == [
        (5, "database_refused"),
        (6, "database_refused"),
    ]


def test_an_outage_is_retried_without_losing_or_repeating(
    services: Services, make_executor
) -> None:  # type: ignore[no-untyped-def]
    prefix, topic = f"ex-{uuid.uuid4().hex[:6]}-", f"t-{uuid.uuid4().hex[:8]}"
    health = WorkerHealth("test")
    failures = iter([True, True, False])
    published: list[Emission] = []

    async def flaky_publish(emissions: list[Emission]) -> None:
        if next(failures):
            raise sa_exc.OperationalError("SELECT 1", {}, psycopg2.OperationalError("down"))
        published.extend(emissions)

    batch = messages(topic, [f"{prefix}{i}" for i in range(4)])
    run(make_executor(health, flaky_publish), new_group(), "ex", batch)
    assert stored(services, prefix) == {f"{prefix}{i}" for i in range(4)}
    assert len(published) == 4 and health.retries == 2 and health.state == "running"
    with services.sessions() as session:
        processed = session.scalar(
            text("SELECT sum(value) FROM stage_counts WHERE stage = 'ex' AND topic = :t"),
            {"t": topic},
        )
    assert processed == 4  # the two rolled-back attempts counted nothing


def test_a_bug_stops_the_worker_until_the_message_is_quarantined(
    services: Services, make_executor
) -> None:  # type: ignore[no-untyped-def]
    prefix, topic = f"ex-{uuid.uuid4().hex[:6]}-", f"t-{uuid.uuid4().hex[:8]}"
    poison = f"{prefix}poison"

    def buggy(tx: BatchTransaction, batch: list[RawMessage]) -> list[Emission]:
        if any(m.value.decode() == poison and tx.is_new(m.position) for m in batch):
            raise KeyError("a bug")
        return register_sites(tx, batch)

    batch = messages(topic, [f"{prefix}0", f"{prefix}1", poison, f"{prefix}3"])
    health = WorkerHealth("test")
    exits = 0
    for _ in range(3):  # each try is a fresh worker process resuming the same batch
        executor = make_executor(health)
        group = new_group()
        try:
            asyncio.run(executor.run(group, "ex", batch, buggy))
        except Exited as exc:
            assert exc.args == (EXIT_STAGE_FAILED,)
            exits += 1
    assert exits == 2
    assert stored(services, prefix) == {f"{prefix}0", f"{prefix}1", f"{prefix}3"}
    [(offset, reason, detail)] = dead_letters(services, topic)
    assert (offset, reason) == (2, "quarantined") and "KeyError: 'a bug'" in detail
    assert health.quarantined == 1


def test_a_partition_that_moved_on_elsewhere_resets_the_memory(
    services: Services, make_executor
) -> None:  # type: ignore[no-untyped-def]
    prefix, topic = f"ex-{uuid.uuid4().hex[:6]}-", f"t-{uuid.uuid4().hex[:8]}"
    batch = messages(topic, [f"{prefix}{i}" for i in range(9)])
    resets: list[int] = []
    first = StageGroup("a", lambda: resets.append(1), ThreadPoolExecutor(1))
    other = StageGroup("b", lambda: None, ThreadPoolExecutor(1))
    executor = make_executor()
    run(executor, first, "ex", batch[:3])
    run(executor, first, "ex", batch[3:5])
    assert resets == []  # nobody else applied anything in between
    run(executor, other, "ex", batch[5:7])  # another worker holds the partition for a while
    run(executor, first, "ex", batch[7:])
    assert resets == [1]
    assert stored(services, prefix) == {f"{prefix}{i}" for i in range(9)}


def test_a_bug_quoting_a_nul_is_still_counted_and_quarantined(
    services: Services,
    make_executor,  # type: ignore[no-untyped-def]
) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"

    def buggy(tx: BatchTransaction, batch: list[RawMessage]) -> list[Emission]:
        if any(tx.is_new(m.position) for m in batch):
            raise RuntimeError("cannot handle 'bad\x00site'")  # the traceback holds a NUL
        return []

    batch = messages(topic, ["x"])
    exits = 0
    for _ in range(3):
        try:
            asyncio.run(make_executor().run(new_group(), "ex", batch, buggy))
        except Exited:
            exits += 1
    assert exits == 2
    [(offset, reason, detail)] = dead_letters(services, topic)
    assert (offset, reason) == (0, "quarantined") and "bad\\x00site" in detail
