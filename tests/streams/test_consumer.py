"""The stage groups' batch consumer against the real broker: batches, order, commits, ranges."""

import asyncio
import uuid

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from gridbrain.streams.consumer import GroupConsumer, Record, byte_chunks
from tests.integration.conftest import Services


def records(sizes: list[int]) -> list[Record]:
    return [Record("t", 0, i, 0, 0, None, b"x" * n, None, 1, n, ()) for i, n in enumerate(sizes)]


def test_byte_chunks_bound_the_bytes_and_keep_order() -> None:
    chunks = list(byte_chunks(records([3, 3, 3, 10, 1, 1]), 6))
    assert [[r.offset for r in c] for c in chunks] == [[0, 1], [2], [3], [4, 5]]
    assert list(byte_chunks([], 6)) == []


def topics(services: Services, names: list[str], partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=services.bootstrap)
    admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    admin.close()


def produce(services: Services, messages: list[tuple[str, int, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=services.bootstrap, linger_ms=5)
    for topic, partition, value in messages:
        producer.send(topic, value=value, partition=partition)
    producer.flush()
    producer.close()


async def drain(consumer: GroupConsumer, expected: int) -> list[Record]:
    got: list[Record] = []
    async with asyncio.timeout(60):
        while len(got) < expected:
            got += await consumer.take(1000, 0.2)
    return got


@pytest.mark.integration
def test_batches_keep_partition_order_and_a_commit_resumes_the_group(services: Services) -> None:
    name = f"consumer-{uuid.uuid4().hex[:8]}"
    topics(services, [name], 2)
    produce(services, [(name, i % 2, str(i).encode()) for i in range(300)])
    held: list[set[tuple[str, int]]] = []

    async def assigned(now: set[tuple[str, int]]) -> None:
        held.append(now)

    async def first_pass() -> list[Record]:
        consumer = GroupConsumer(services.bootstrap, name, [name], assigned, 6.0)
        await consumer.start()
        try:
            got = await drain(consumer, 300)
            assert consumer.partition_count(name) == 2
            assert consumer.assignment() == {(name, 0), (name, 1)}
            first_100 = [r for r in got if r.partition == 0][:100]
            await consumer.commit(first_100 + [r for r in got if r.partition == 1])
            return got
        finally:
            await consumer.stop()

    got = asyncio.run(first_pass())
    assert held[-1] == {(name, 0), (name, 1)}
    for p in (0, 1):
        offsets = [r.offset for r in got if r.partition == p]
        assert offsets == list(range(150))
    committed_0 = 99

    async def second_pass() -> list[Record]:
        consumer = GroupConsumer(services.bootstrap, name, [name], assigned, 6.0)
        await consumer.start()
        try:
            return await drain(consumer, 149 - committed_0)
        finally:
            await consumer.stop()

    again = asyncio.run(second_pass())
    assert {r.partition for r in again} == {0}  # partition 1 was committed to its end
    assert [r.offset for r in again] == list(range(committed_0 + 1, 150))


@pytest.mark.integration
def test_two_members_get_the_same_partitions_of_co_partitioned_topics(services: Services) -> None:
    group = f"range-{uuid.uuid4().hex[:8]}"
    names = [f"{group}-a", f"{group}-b"]
    topics(services, names, 4)

    async def both() -> list[set[tuple[str, int]]]:
        members = [GroupConsumer(services.bootstrap, group, names, _ignore, 6.0) for _ in "12"]
        for m in members:
            await m.start()
        try:
            async with asyncio.timeout(60):
                while True:
                    held = [m.assignment() for m in members]
                    if all(held) and sum(len(h) for h in held) == 8:
                        return held
                    await asyncio.sleep(0.2)
        finally:
            for m in members:
                await m.stop()

    for held in asyncio.run(both()):
        by_topic = [{p for t, p in held if t == name} for name in names]
        assert by_topic[0] == by_topic[1] and len(by_topic[0]) == 2


async def _ignore(_: set[tuple[str, int]]) -> None:
    return None
