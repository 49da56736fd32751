"""Benchmark: the cleaning pipeline's readings/s next to a raw aiokafka consumer, same run.

Starts the embedded broker and PostgreSQL in a temporary directory, produces N readings
(batches of B per message, S sites, historic timestamps) to ``sensor.readings``, then
1. reads the topic with a bare aiokafka consumer + json.loads (the Python ceiling), and
2. runs a real Gridbrain worker (stages chosen by --role) and times it from its first
   counted reading to the last.

Usage: .venv/bin/python benchmarks/pipeline_throughput.py [--readings 200000] [--batch 100]
       [--workers 2]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from kafka import KafkaProducer
from tqdm import tqdm

from gridbrain.cli.bench_worker import worker_rate
from gridbrain.cli.embedded import EmbeddedBroker, free_port, open_database_url
from gridbrain.storage.db import migrate
from gridbrain.streams.throughput import raw_consumer_rate
from gridbrain.streams.topics import SENSOR_READINGS, create_topics

QUANTITIES = (("load", "kW"), ("pv_power", "kW"), ("pm25", "ug/m3"), ("temperature", "degC"))


def produce(bootstrap: str, readings: int, batch: int, sites: int) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=1 << 20)
    start_ms = int(time.time() * 1000) - 30 * 86_400_000
    messages = 0
    per_site_tick = readings // sites // len(QUANTITIES) + 1
    sent = 0
    with tqdm(total=readings, unit="reading", desc="producing") as bar:
        for tick in range(per_site_tick):
            for site in range(sites):
                items = [
                    {
                        "site_id": f"site-{site}",
                        "sensor_id": q,
                        "quantity": q,
                        "value": 10.0 + tick % 7,
                        "unit": u,
                        "ts": start_ms + (tick * batch // len(QUANTITIES) + k) * 60_000,
                    }
                    for k in range(batch // len(QUANTITIES))
                    for q, u in QUANTITIES
                ]
                producer.send(
                    SENSOR_READINGS, key=f"site-{site}".encode(), value=json.dumps(items).encode()
                )
                messages += 1
                sent += len(items)
                bar.update(len(items))
                if sent >= readings:
                    producer.flush()
                    return sent
    producer.flush()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100, help="readings per message")
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--role", action="append", default=None, help="stages (default: clean)")
    parser.add_argument("--workers", type=int, default=1, help="workers in one consumer group")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedBroker(Path(tmp), free_port()) as broker,
        open_database_url(None, Path(tmp) / "pgdata") as url,
    ):
        migrate(url)
        create_topics(broker.bootstrap, 4)
        sent = produce(broker.bootstrap, args.readings, args.batch, args.sites)
        raw_readings, raw_seconds = raw_consumer_rate(broker.bootstrap, SENSOR_READINGS)
        ceiling = raw_readings / raw_seconds
        roles = tuple(args.role or ["clean"])
        counter = ("clean", SENSOR_READINGS)
        rate = worker_rate(
            broker.bootstrap, url, roles, counter, sent, Path(tmp) / "w.log", args.workers
        )
    print(f"readings: {sent}, {args.batch} per message, {args.sites} sites")
    print(f"raw aiokafka consumer + json.loads : {ceiling:10,.0f} readings/s")
    stages = "+".join(args.role or ["clean"])
    print(f"gridbrain pipeline ({stages}, {args.workers} worker(s)) : {rate:10,.0f} readings/s")
    print(f"ratio pipeline / raw               : {rate / ceiling:10.3f}")


if __name__ == "__main__":
    main()
