"""A running worker's /metrics: found through its report, counters move as readings flow."""

import json
import socket
import subprocess
import time
import urllib.request

import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from gridbrain.streams.metrics import METRIC_NAMES
from gridbrain.streams.topics import SENSOR_READINGS
from tests.integration.conftest import Services, wait_for

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        body = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def metrics_port(services: Services, worker: subprocess.Popen[bytes]) -> int | None:
    with services.sessions() as session:
        return session.execute(
            text("SELECT metrics_port FROM workers WHERE worker_id = :w"),
            {"w": f"{socket.gethostname()}:{worker.pid}"},
        ).scalar()


def test_worker_metrics_move_with_readings(
    services: Services, worker: subprocess.Popen[bytes]
) -> None:
    wait_for(lambda: metrics_port(services, worker) is not None, 60, "the worker's report")
    port = metrics_port(services, worker)
    assert port
    before = scrape(port)
    now = int(time.time() // 900 * 900 * 1000)
    good = [
        {"site_id": "it-metrics", "quantity": "load", "value": 10 + i, "unit": "kW",
         "ts": now - 3_600_000 + i * 60_000}
        for i in range(40)
    ]  # fmt: skip
    bad = [{"site_id": "it-metrics", "quantity": "load", "value": 1, "unit": "furlongs",
            "ts": now - 60_000}]  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=services.bootstrap)
    producer.send(SENSOR_READINGS, key=b"it-metrics", value=json.dumps(good).encode())
    producer.send(SENSOR_READINGS, key=b"it-metrics", value=json.dumps(bad).encode())
    producer.send(SENSOR_READINGS, key=b"it-metrics", value=b"\x00\xff not json")
    producer.flush()
    producer.close()

    received = "gridbrain_stage_items_total"
    labels = {"stage": "clean", "topic": SENSOR_READINGS, "counter": "received"}

    def moved() -> bool:
        return value(scrape(port), received, **labels) - value(before, received, **labels) >= 42

    wait_for(moved, 120, "the clean stage's counters to move")
    after = scrape(port)
    consumed = "gridbrain_messages_consumed_total"
    topic = {"stage": "clean", "topic": SENSOR_READINGS}
    assert value(after, consumed, **topic) - value(before, consumed, **topic) >= 3
    for reason in ("unknown_unit", "malformed_json"):
        dead = "gridbrain_dead_letters_total"
        assert value(after, dead, stage="clean", reason=reason) > value(
            before, dead, stage="clean", reason=reason
        ), reason
    assert value(after, "gridbrain_batch_seconds_count", stage="clean") > value(
        before, "gridbrain_batch_seconds_count", stage="clean"
    )
    assert value(after, "gridbrain_rebalances_total", group="clean") >= 1
    assert value(after, "gridbrain_assigned_partitions", group="clean") >= 1
    lag = [ls for (n, ls), _ in after.items() if n == "gridbrain_consumer_lag_messages"]
    assert any(("topic", SENSOR_READINGS) in ls for ls in lag)
    ours = {n for n, _ in after if n.startswith("gridbrain_") and not n.endswith("_created")}
    assert ours <= METRIC_NAMES, ours - METRIC_NAMES
