"""``gridbrain benchmark pipeline``: the clean stage as real workers beside the ceiling.

Starts the embedded broker and PostgreSQL in a temporary directory, registers ``--sites``
sites, produces their readings (``--per-message`` readings of one site per message, keyed
by site, timestamps a month back), then measures in the same run
1. the ceiling: a bare aiokafka consumer + ``json.loads`` + per-(site, quantity) tumbling
   means in a dict (the job every stream engine was compared on), and
2. ``--workers`` real Gridbrain workers (one consumer group) running the clean stage:
   validation, checks, resampling, fusing, Postgres, fused output; timed by their
   committed counters from the first batch to the last reading.
The last line is JSON.
"""

import json
import time
from typing import Any

import click

__all__ = ["pipeline", "readings_messages"]

QUANTITIES = (("load", "kW"), ("pv_power", "kW"), ("pm25", "ug/m3"), ("temperature", "degC"))
_MINUTE_MS = 60_000


def readings_messages(
    readings: int, per_message: int, sites: int, start_ms: int
) -> list[tuple[bytes, bytes]]:
    """(key, value) of messages holding ``readings`` readings, in time order across sites.

    Each site reports every quantity each minute; a message holds ``per_message``
    consecutive readings of one site.
    """
    per_site = -(-readings // sites)
    messages: list[tuple[bytes, bytes]] = []
    chunks = -(-per_site // per_message)
    left = readings
    for chunk in range(chunks):
        for site in range(sites):
            site_id = f"site-{site}"
            items: list[dict[str, Any]] = []
            for k in range(chunk * per_message, min((chunk + 1) * per_message, per_site)):
                minute, q = divmod(k, len(QUANTITIES))
                quantity, unit = QUANTITIES[q]
                value = 10.0 + (minute * 7 + site) % 11 + 0.1 * q
                ts = start_ms + minute * _MINUTE_MS
                items.append(
                    {"site_id": site_id, "sensor_id": quantity, "quantity": quantity,
                     "value": value, "unit": unit, "ts": ts}
                )  # fmt: skip
            items = items[:left]
            if not items:
                continue
            left -= len(items)
            body = items[0] if per_message == 1 else items
            messages.append((site_id.encode(), json.dumps(body, separators=(",", ":")).encode()))
    return messages


def _produce(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer
    from tqdm import tqdm

    from gridbrain.streams.topics import SENSOR_READINGS

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=1 << 20)
    for key, value in tqdm(messages, unit="msg", desc="producing", mininterval=1.0):
        producer.send(SENSOR_READINGS, key=key, value=value)
    producer.flush()
    producer.close()


def _register(url: str, sites: int) -> None:
    """Register the sites, as an operator would (``gridbrain sites load``).

    A worker takes on unregistered sites at a limited rate (GRIDBRAIN_NEW_SITES_PER_HOUR).
    """
    from gridbrain.storage.db import make_engine, make_sessionmaker
    from gridbrain.storage.sites import ensure_sites

    sessions = make_sessionmaker(make_engine(url))
    with sessions() as session, session.begin():
        ensure_sites(session, [f"site-{k}" for k in range(sites)])


@click.command("pipeline")
@click.option("--readings", type=int, default=1_000_000, show_default=True)
@click.option("--per-message", type=int, default=100, show_default=True)
@click.option("--sites", type=int, default=1000, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="In one group.")
@click.option("--partitions", type=int, default=4, show_default=True)
def pipeline(readings: int, per_message: int, sites: int, workers: int, partitions: int) -> None:
    """Clean stage readings/s as real workers, beside the dict-window ceiling (same run)."""
    from gridbrain.cli.bench_worker import embedded_services, worker_rate
    from gridbrain.settings import Settings
    from gridbrain.streams.throughput import raw_consumer_rate
    from gridbrain.streams.topics import SENSOR_READINGS

    start_ms = (int(time.time() * 1000) // 86_400_000 - 30) * 86_400_000
    messages = readings_messages(readings, per_message, sites, start_ms)
    sent = readings
    with embedded_services(partitions) as (tmp, bootstrap, url):
        _register(url, sites)
        _produce(bootstrap, messages)
        raw, raw_s = raw_consumer_rate(bootstrap, SENSOR_READINGS, window_ms=Settings().step_ms)
        ceiling = raw / raw_s
        log = tmp / "worker.log"
        rate = worker_rate(
            bootstrap, url, ("clean",), ("clean", SENSOR_READINGS), sent, log, workers
        )
    result = {
        "stage": "clean",
        "readings": sent,
        "per_message": per_message,
        "sites": sites,
        "workers": workers,
        "rate": round(rate),
        "ceiling": round(ceiling),
        "ratio": round(rate / ceiling, 3),
    }
    click.echo(f"readings {sent:,}, {per_message} per message, {sites:,} sites")
    click.echo(f"ceiling (aiokafka + json.loads + dict windows): {ceiling:>10,.0f} readings/s")
    click.echo(f"clean stage, {workers} worker(s):                {rate:>10,.0f} readings/s")
    click.echo(f"ratio:                                        {rate / ceiling:>10.3f}")
    click.echo(json.dumps(result))
