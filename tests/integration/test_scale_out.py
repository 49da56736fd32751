"""Scale-out is part of correctness: workers joining, leaving and killed mid-stream give
the same tables as one worker without faults.

The same seeded feed (many sites over every partition, ~1 % faulty, some sites only inside
gateway batches keyed by the gateway) is replayed twice, each time on a fresh embedded
broker and PostgreSQL: once through one ingest worker, once through two workers of which
a busy one is killed with SIGKILL three times (and replaced, as a supervisor would), while
a third worker joins and leaves. The readings (count, sum and quality per series), the
dead letters and the alert incidents must be identical, and stay so when the group's
commits are rewound to the start and every message comes again.
"""

import json
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from sqlalchemy import text

from gridbrain.storage.queries import applied_offsets, stage_counts
from gridbrain.streams.lag import end_offsets, lag_of
from gridbrain.streams.topics import DEADLETTER, FUSED, REROUTED, SENSOR_READINGS
from tests.integration.conftest import Services, running_services, running_worker, wait_for

pytestmark = pytest.mark.integration

DAY, STEP = 86_400_000, 300_000
T0 = (int(time.time() * 1000) - 10 * DAY) // DAY * DAY
TICKS = 2 * DAY // STEP  # two days of 5-minute readings
LOAD_SITES = [f"so-load-{i}" for i in range(24)]
AQ_SITES = [f"so-aq-{i}" for i in range(8)]
GATEWAYS = {  # sites that only ever arrive inside their gateway's batches
    "so-gw-a": [*LOAD_SITES[:3], AQ_SITES[0]],
    "so-gw-b": [*LOAD_SITES[3:6], AQ_SITES[1]],
}
ROLES = ("clean", "alert")


def feed() -> list[tuple[bytes, bytes]]:
    """(key, value) messages in send order; the same bytes on every call."""
    rng = random.Random(11)
    gated = {s for sites in GATEWAYS.values() for s in sites}
    messages: list[tuple[bytes, bytes]] = []
    for tick in range(TICKS):
        ts = T0 + tick * STEP
        per_site: dict[str, dict[str, Any]] = {}
        for site in LOAD_SITES:
            per_site[site] = {"quantity": "load", "value": 100 + 40 * rng.random(), "unit": "kW"}
        for i, site in enumerate(AQ_SITES):
            episode = tick // 12 % 24 in (18, 19, 20) and tick > TICKS // 2 and i % 2 == 0
            value = (90.0 if episode else 8.0) + rng.random()
            per_site[site] = {"quantity": "pm25", "value": value, "unit": "ug/m3"}
        for site, item in per_site.items():
            item.update(site_id=site, sensor_id="m", ts=ts)
            fault = rng.random()
            if fault < 0.004:
                item["unit"] = "furlongs"
            elif fault < 0.008:
                item["value"] = -1e9
        for gateway, sites in GATEWAYS.items():
            batch = [per_site[s] for s in sites]
            messages.append((gateway.encode(), json.dumps(batch).encode()))
        for site, item in per_site.items():
            if site in gated:
                continue
            value = json.dumps([item]).encode()
            if rng.random() < 0.002:
                value = value[:-7]  # truncated on the wire
            messages.append((site.encode(), value))
            if rng.random() < 0.003:
                messages.append((site.encode(), value))  # a resent message
    return messages


def produce(services: Services, messages: list[tuple[bytes, bytes]], seconds: float) -> None:
    producer = KafkaProducer(bootstrap_servers=services.bootstrap, linger_ms=5)
    pause = seconds / len(messages)
    started = time.monotonic()
    for i, (key, value) in enumerate(messages):
        producer.send(SENSOR_READINGS, key=key, value=value)
        if pause:
            ahead = started + i * pause - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    producer.flush()
    producer.close()


def caught_up(services: Services) -> bool:
    ends = end_offsets(services.bootstrap, [SENSOR_READINGS, FUSED, DEADLETTER])
    with services.sessions() as session:
        applied = applied_offsets(session)
    return bool(ends) and all(
        lag_of(applied.get((stage, topic), {}), ends, topic) == 0
        for stage, topic in (("clean", SENSOR_READINGS), ("alert", FUSED), ("alert", DEADLETTER))
    )


def settled(services: Services) -> None:
    """Wait until every stage applied everything, twice in a row (reroutes add messages)."""
    streak = [0]

    def check() -> bool:
        streak[0] = streak[0] + 1 if caught_up(services) else 0
        return streak[0] >= 3

    wait_for(check, 300, "every stage to catch up")


def snapshot(services: Services) -> dict[str, Any]:
    """The tables to compare; sums to 6 decimals (batching changes the order of float sums)."""
    with services.sessions() as session:
        readings = session.execute(
            text(
                "SELECT site_id, quantity, quality, count(*), sum(n_samples), sum(n_flagged), "
                "round(sum(value_sum)::numeric, 6) FROM readings WHERE site_id LIKE 'so-%' "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
            )
        ).all()
        dead = session.execute(text("SELECT reason, payload FROM dead_letters")).all()
        # Event-time incidents only: the dead-letter ratio is judged in arrival (wall-clock)
        # time, so whether and when it fires depends on how a run's batches interleave the
        # dead letters and fused steps of a site; no two runs share it.
        incidents = session.execute(
            text(
                "SELECT dedup_key, started_at, fired_at, resolved_at, state, "
                "round(peak::numeric, 6) FROM alerts "
                "WHERE dedup_key NOT LIKE 'deadletter_ratio_high%' ORDER BY 1, 2"
            )
        ).all()
        counters = stage_counts(session)
    redelivered = {
        "fused steps emitted": counters.get(("clean", FUSED), {}).get("emitted", 0),
        "fused steps the alert stage received": counters.get(("alert", FUSED), {}).get(
            "received", 0
        ),
        "rerouted resent": counters.get(("clean", REROUTED), {}).get("redelivered", 0),
        "readings messages redelivered": counters.get(("clean", SENSOR_READINGS), {}).get(
            "redelivered", 0
        ),
    }
    return {
        "counters": redelivered,
        "readings": [tuple(r) for r in readings],
        "dead_letters": Counter((reason, payload) for reason, payload in dead),
        "incidents": [tuple(r) for r in incidents],
    }


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Any]:
    with ExitStack() as stack:

        def make(name: str) -> Services:
            return stack.enter_context(running_services(tmp_path / name))

        yield make


def test_scaled_out_and_killed_workers_give_the_tables_of_one_worker(fresh: Any) -> None:
    messages = feed()
    reference = fresh("reference")
    with running_worker(reference, ROLES):
        produce(reference, messages, 0)
        settled(reference)
    expected = snapshot(reference)
    assert {r[0] for r in expected["readings"]} == {*LOAD_SITES, *AQ_SITES}
    assert {r for r, _ in expected["dead_letters"]} >= {"unknown_unit", "out_of_range"}
    assert any(i[4] == "resolved" for i in expected["incidents"])

    chaos = fresh("chaos")
    with ExitStack() as workers:
        alive = [workers.enter_context(running_worker(chaos, ROLES)) for _ in range(2)]
        feeder = threading.Thread(target=produce, args=(chaos, messages, 100.0))
        feeder.start()
        events = []
        started = time.monotonic()
        third = None
        for at, action in ((20, "kill"), (32, "join"), (48, "kill"), (62, "leave"), (76, "kill")):
            time.sleep(max(0.0, started + at - time.monotonic()))
            if action == "kill":
                victim = alive.pop(0)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                alive.append(workers.enter_context(running_worker(chaos, ROLES)))
            elif action == "join":
                third = subprocess_worker(workers, chaos)
            elif third is not None:
                third.terminate()
                third.wait(60)
            events.append((round(time.monotonic() - started), action))
        feeder.join()
        settled(chaos)
        assert all(w.poll() is None for w in alive), "a replacement worker stopped"
    got = snapshot(chaos)
    assert got["readings"] == expected["readings"]
    assert got["dead_letters"] == expected["dead_letters"]
    assert got["incidents"] == expected["incidents"]
    # A kill redelivers only what was stored but not yet committed to Kafka, a window a
    # run may or may not hit; a worker of a new app id (new consumer groups, which start
    # from the earliest offsets) is delivered everything again, surely, and the stages'
    # stored offsets (per stage, not per group) must recognise every message. (Rewinding
    # the old groups' commits did the same, but after SIGKILLs the embedded broker could
    # keep the new member of those groups waiting for its partitions past any timeout.)
    before = got["counters"]["readings messages redelivered"]
    readings_messages = sum(end_offsets(chaos.bootstrap, [SENSOR_READINGS]).values())
    with running_worker(chaos, ROLES, env={"GRIDBRAIN_APP_ID": "gridbrain-replay"}):
        seen: list[int] = []

        def all_again() -> bool:
            seen.append(snapshot(chaos)["counters"]["readings messages redelivered"])
            return seen[-1] >= before + readings_messages

        try:
            wait_for(all_again, 540, "every readings message to come again")
        except AssertionError as exc:
            wanted = before + readings_messages
            raise AssertionError(f"{exc}: redelivered {seen[-5:]}, wanted {wanted}") from None
        assert seen[-1] == before + readings_messages, (seen[-5:], before, readings_messages)
        settled(chaos)
    replayed = snapshot(chaos)
    assert replayed["readings"] == expected["readings"]
    assert replayed["dead_letters"] == expected["dead_letters"]
    assert replayed["incidents"] == expected["incidents"]
    print(
        f"chaos events {events}; {len(messages)} messages, {len(got['incidents'])} incidents; "
        f"reference {expected['counters']}; chaos {got['counters']}; "
        f"after the replay {replayed['counters']}"
    )


def subprocess_worker(stack: ExitStack, services: Services) -> "subprocess.Popen[bytes]":
    return stack.enter_context(running_worker(services, ROLES))
