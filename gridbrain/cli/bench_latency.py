"""``gridbrain benchmark latency``: produce → forecast row and produce → alert row, under load.

Starts the embedded broker and PostgreSQL and one worker running every stage, then
produces readings of ``--sites`` sites at a steady ``--rate`` readings/s for
``--duration`` seconds. Each site reports four quantities once per event minute, so
event time runs faster than the clock (the load is a replay); a step of every site
closes every ``15 * 4 * sites / rate`` seconds and every load, PV and PM2.5 series is
forecast once per event hour.

A few probe sites have a load that is high one step and low the next, under a rule
written for the run (``value > 100``, no ``for``), so each of their closed steps opens
or resolves an incident. A step closes with the first message that carries a reading at
or past its end plus the allowed lateness; a latency is the time from handing that
message to the producer until a poller (every 20 ms) sees the row in PostgreSQL:

- forecast: the probe's newest ``load`` forecast (issued at the end of a step that ends
  on the hour);
- alert: each ``alert_history`` row of a probe (keyed by the step's start).

Rows that have not appeared ``--drain`` seconds after the last message are counted as
missing. The last line is JSON: p50/p99 of both latencies, the configured batch windows
they are judged against, and the rate the producer held.
"""

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

__all__ = ["latency"]

_QUANTITIES = (("load", "kW"), ("pv_power", "kW"), ("pm25", "ug/m3"), ("temperature", "degC"))
_MINUTE_MS = 60_000
_PROBES = 8
_RULES = """rules:
  - name: latency_probe
    quantity: load
    expression: value
    op: ">"
    threshold: 100
    for: 0s
    severity: info
    message: "probe load {value:.0f} at {site_id}"
"""


class _Producer:
    """Readings in event-time order at a steady rate; send times of the probes' messages."""

    def __init__(self, sites: int, per_message: int, start_ms: int) -> None:
        self.sites = sites
        self.minutes = max(1, per_message // len(_QUANTITIES))  # event minutes per message
        self.start_ms = start_ms
        self.sent: dict[tuple[int, int], float] = {}  # (probe, chunk) -> send time

    def message(self, site: int, chunk: int) -> bytes:
        items = []
        for minute in range(chunk * self.minutes, (chunk + 1) * self.minutes):
            ts = self.start_ms + minute * _MINUTE_MS
            for q, (quantity, unit) in enumerate(_QUANTITIES):
                value = 10.0 + (minute * 7 + site) % 11 + 0.1 * q
                if site < _PROBES and quantity == "load":
                    value = 150.0 if (minute // 15) % 2 == 0 else 50.0
                items.append(
                    {"site_id": f"site-{site}", "sensor_id": quantity, "quantity": quantity,
                     "value": value, "unit": unit, "ts": ts}
                )  # fmt: skip
        return json.dumps(items, separators=(",", ":")).encode()

    def run(self, bootstrap: str, rate: float, duration_s: float) -> tuple[int, float]:
        """Produce for ``duration_s`` at ``rate`` readings/s; (readings sent, seconds)."""
        from kafka import KafkaProducer

        from gridbrain.streams.topics import SENSOR_READINGS

        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=1 << 20)
        per_message = self.minutes * len(_QUANTITIES)
        began = time.perf_counter()
        sent = 0
        chunk = 0
        while time.perf_counter() - began < duration_s:
            for site in range(self.sites):
                ahead = sent / rate - (time.perf_counter() - began)
                if ahead > 0:
                    time.sleep(ahead)
                value = self.message(site, chunk)
                producer.send(SENSOR_READINGS, key=f"site-{site}".encode(), value=value)
                if site < _PROBES:
                    self.sent[(site, chunk)] = time.perf_counter()
                sent += per_message
            chunk += 1
        producer.flush()
        producer.close()
        return sent, time.perf_counter() - began

    def closed_by(self, probe: int, closing_ms: int) -> float | None:
        """When the message holding the first reading at or past ``closing_ms`` was sent."""
        minute = -(-(closing_ms - self.start_ms) // _MINUTE_MS)
        return self.sent.get((probe, minute // self.minutes))


class _Poller(threading.Thread):
    """Sees new forecast and alert rows of the probes, with the time it first saw each."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.forecasts: dict[tuple[int, int], float] = {}  # (probe, issued ms) -> seen
        self.alerts: dict[tuple[int, int, str], float] = {}  # (probe, at ms, state) -> seen
        self.stopping = threading.Event()

    def run(self) -> None:
        from sqlalchemy import text

        from gridbrain.storage.db import make_engine

        engine = make_engine(self.url)
        probes = [f"site-{p}" for p in range(_PROBES)]
        last_id = 0
        with engine.connect() as connection:
            while not self.stopping.wait(0.02):
                now = time.perf_counter()
                newest = connection.execute(
                    text(
                        "SELECT site_id, max(issued_at) FROM forecast_issues "
                        "WHERE site_id = ANY(:p) AND quantity = 'load' GROUP BY site_id"
                    ),
                    {"p": probes},
                ).all()
                for site, issued in newest:
                    key = (int(site.split("-")[1]), int(issued.timestamp() * 1000))
                    self.forecasts.setdefault(key, now)
                changes = connection.execute(
                    text(
                        "SELECT id, dedup_key, at, state FROM alert_history WHERE id > :last "
                        "ORDER BY id"
                    ),
                    {"last": last_id},
                ).all()
                for row_id, key_text, at, state in changes:
                    last_id = max(last_id, row_id)
                    probe = _probe_of(key_text)
                    if probe is not None:
                        self.alerts.setdefault((probe, int(at.timestamp() * 1000), state), now)
                connection.rollback()  # a fresh snapshot each poll
        engine.dispose()


def _probe_of(dedup_key: str) -> int | None:
    for p in range(_PROBES):
        if f'site_id="site-{p}"' in dedup_key:
            return p
    return None


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    a = np.asarray(values)
    marks = (("p50", 50), ("p99", 99), ("max", 100))
    return {k: round(float(np.percentile(a, q)), 3) for k, q in marks}


@click.command("latency")
@click.option("--rate", type=float, default=20_000, show_default=True, help="Readings/s.")
@click.option("--sites", type=int, default=1000, show_default=True)
@click.option("--per-message", type=int, default=100, show_default=True)
@click.option("--duration", type=float, default=90.0, show_default=True, help="Seconds.")
@click.option("--drain", type=float, default=30.0, show_default=True, help="Seconds after.")
@click.option(
    "--split/--no-split",
    default=False,
    help="Run the forecast stage in a worker process of its own (clean + alert in another).",
)
def latency(
    rate: float, sites: int, per_message: int, duration: float, drain: float, split: bool
) -> None:
    """Produce → forecast row and produce → alert row latency at a steady rate."""
    from gridbrain.cli.bench_worker import embedded_services
    from gridbrain.cli.services import embedded_kafka_env, worker_command
    from gridbrain.settings import Settings

    settings = Settings()
    step_ms, lateness_ms = settings.step_ms, settings.allowed_lateness_minutes * _MINUTE_MS
    start_ms = (int(time.time() * 1000) // 86_400_000 - 20) * 86_400_000
    producer = _Producer(sites, per_message, start_ms)
    with embedded_services(settings.partitions) as (tmp, bootstrap, url):
        rules = tmp / "rules.yaml"
        rules.write_text(_RULES)
        env = {**embedded_kafka_env(), "GRIDBRAIN_ALERT_RULES_FILE": str(rules)}
        log = (tmp / "worker.log").open("ab")
        role_sets = [("clean", "alert"), ("forecast",)] if split else [()]
        workers = [
            subprocess.Popen(
                worker_command(bootstrap, url, roles),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            for roles in role_sets
        ]
        poller = _Poller(url)
        poller.start()
        try:
            for worker in workers:
                _wait_until_consuming(url, worker, tmp / "worker.log", len(workers))
            click.echo(f"producing {rate:,.0f} readings/s for {duration:.0f} s ...")
            sent, took = producer.run(bootstrap, rate, duration)
            time.sleep(drain)
        finally:
            poller.stopping.set()
            poller.join(5)
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
    forecast_lat = [
        seen - sent_at
        for (probe, issued), seen in poller.forecasts.items()
        if (sent_at := producer.closed_by(probe, issued + lateness_ms)) is not None
    ]
    alert_lat = [
        seen - sent_at
        for (probe, at, _), seen in poller.alerts.items()
        if (sent_at := producer.closed_by(probe, at + step_ms + lateness_ms)) is not None
    ]
    expected_steps = _steps_closed(producer, step_ms, lateness_ms)
    windows = {
        "forecast": settings.ingest_batch_within_s + settings.forecast_batch_within_s,
        "alert": settings.ingest_batch_within_s + settings.forecast_batch_within_s,
    }
    result: dict[str, Any] = {
        "stage": "latency",
        "rate": round(sent / took),
        "target_rate": rate,
        "sites": sites,
        "per_message": per_message,
        "workers": len(role_sets),
        "forecast": {**_percentiles(forecast_lat), "rows": len(forecast_lat)},
        "alert": {**_percentiles(alert_lat), "rows": len(alert_lat), "probe_steps": expected_steps},
        "batch_windows_s": windows,
    }
    click.echo(f"held {sent / took:,.0f} readings/s ({sent:,} readings in {took:.1f} s)")
    for name in ("forecast", "alert"):
        r = result[name]
        click.echo(
            f"produce → {name} row: p50 {r['p50']} s, p99 {r['p99']} s, max {r['max']} s "
            f"over {r['rows']} rows (batch windows {windows[name]:.1f} s + 1 s allowed)"
        )
    click.echo(json.dumps(result))


def _steps_closed(producer: _Producer, step_ms: int, lateness_ms: int) -> int:
    """How many probe steps the produced readings closed (each should change an incident)."""
    chunks = 1 + max((c for _, c in producer.sent), default=-1)
    last_ms = producer.start_ms + chunks * producer.minutes * _MINUTE_MS
    return _PROBES * max(0, (last_ms - lateness_ms - producer.start_ms) // step_ms - 1)


def _wait_until_consuming(
    url: str, worker: subprocess.Popen[bytes], log: Path, reporting: int = 1
) -> None:
    """Wait until ``reporting`` workers hold partitions (their consumers are joining groups)."""
    from gridbrain.storage.db import make_engine, make_sessionmaker
    from gridbrain.storage.workers import live_workers

    sessions = make_sessionmaker(make_engine(url))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise click.ClickException(f"the worker exited:\n{log.read_text()[-3000:]}")
        with sessions() as session:
            if sum(bool(w.partitions) for w in live_workers(session, within_s=60)) >= reporting:
                return
        time.sleep(0.5)
    raise click.ClickException("the worker did not take partitions within 120 s")
