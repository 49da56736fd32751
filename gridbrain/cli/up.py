"""``gridbrain up``: start the stack, the workers and (optionally) the demo feed."""

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import click

from gridbrain.cli.api_process import ApiProcess
from gridbrain.cli.demo import DEMO_SITES, simulate
from gridbrain.cli.embedded import EmbeddedBroker, open_database_url
from gridbrain.cli.monitor import Monitor
from gridbrain.cli.redact import mask_url
from gridbrain.cli.services import database_url_of, kafka_security_of, worker_command
from gridbrain.settings import Settings
from gridbrain.storage.db import make_engine, make_sessionmaker, migrate
from gridbrain.storage.repositories import forget_offsets, latest_reading_ms
from gridbrain.storage.sites import upsert_sites
from gridbrain.streams.kafka_security import KafkaSecurity
from gridbrain.streams.producer import produce
from gridbrain.streams.throughput import raw_consumer_rate
from gridbrain.streams.topics import (
    SENSOR_READINGS,
    WEATHER_OBSERVATIONS,
    create_topics,
    retention_ms_of,
)

__all__ = ["UpOptions", "demo_messages", "run_up"]


@dataclass(frozen=True)
class UpOptions:
    """Options of ``gridbrain up``."""

    demo: bool
    duration: float | None
    workers: int = 1
    demo_days: float = 3.0
    demo_rate: float | None = None
    progress_every_s: float = 5.0


@dataclass
class _DemoFeed:
    produced: int = 0
    error: BaseException | None = None
    stop: threading.Event = field(default_factory=threading.Event)


def _banner(bootstrap: str, db_url: str, settings: Settings, api_url: str | None) -> str:
    page = f"{api_url}/" if api_url else f"not started (see {settings.state_dir / 'api.log'})"
    docs = f"{api_url}/docs" if api_url else "-"
    curl = f"curl '{api_url}/forecasts/latest?site=pv-north&quantity=pv_power'" if api_url else ""
    shown = mask_url(db_url)
    # A URL with a password is named by its variable, never printed (issue 11).
    target = f"'{db_url}'" if shown == db_url else '"$GRIDBRAIN_DATABASE_URL"'
    psql_hint = (
        f"psql {target}" if "host=" in db_url or "@" in db_url else "psql <your database URL>"
    )
    return f"""
Gridbrain is up.
  Live page       : {page}
  HTTP API        : {docs}
  Kafka bootstrap : {bootstrap}   (produce JSON to {SENSOR_READINGS}, {WEATHER_OBSERVATIONS})
  Database        : {shown}
  State directory : {settings.state_dir.resolve()}
Try, in another terminal:
  {curl}
  gridbrain status
  gridbrain forecasts --site pv-north --quantity pv_power
  gridbrain schedule --site feeder-a
  gridbrain alerts
  gridbrain ask "what will pv-north produce tomorrow at noon?"
  {psql_hint} -c "SELECT site_id, quantity, target_ts, p10, p50, p90, model FROM forecasts
     WHERE issued_at = (SELECT max(issued_at) FROM forecast_issues) ORDER BY 1, 2, 3 LIMIT 20"
Ctrl-C stops everything.
"""


def demo_messages(
    days: float,
    live: bool = False,
    stop: threading.Event | None = None,
    resume_after_ms: int | None = None,
) -> Iterator[tuple[str, bytes | None, bytes]]:
    """Demo messages from ``days`` ago up to now; with ``live``, then on in real time.

    With ``resume_after_ms`` (the newest demo reading already stored) the feed continues
    after it instead of sending the same hours again, as a real gateway would.
    """
    now = int(time.time() * 1000)
    start = now - int(days * 86_400_000)
    if resume_after_ms is not None:
        start = max(start, resume_after_ms + 900_000)  # the step after the newest stored
    end = now + 3650 * 86_400_000 if live else now
    for message in simulate(start, end):
        while message.ts_ms > time.time() * 1000:
            if stop is not None and stop.wait(1.0):
                return
        yield message.topic, message.key.encode(), message.value


def _run_demo(
    bootstrap: str,
    options: UpOptions,
    feed: _DemoFeed,
    resume_after_ms: int | None,
    security: KafkaSecurity,
) -> None:
    def sent(n: int) -> None:
        feed.produced += n

    try:
        produce(
            bootstrap,
            demo_messages(options.demo_days, True, feed.stop, resume_after_ms),
            options.demo_rate,
            sent,
            feed.stop.is_set,
            security,
        )
    except BaseException as exc:  # reported by the main thread, which decides to stop
        feed.error = exc


def _start_workers(
    settings: Settings, bootstrap: str, db_url: str, n: int
) -> list[subprocess.Popen[bytes]]:
    """``n`` ingest workers (clean, alert, dispatch) and one forecaster, as compose runs them.

    The forecaster gets a process of its own: catching up on history it can take a core
    for minutes, and ingestion must not wait for it.
    """
    log = (settings.state_dir / "worker.log").open("ab")
    url = None if settings.database_url else db_url
    port = settings.metrics_port
    commands = [
        *(
            worker_command(bootstrap, url, ("clean", "alert", "dispatch"), port and port + i)
            for i in range(n)
        ),
        worker_command(bootstrap, url, ("forecast",), port and port + n),
    ]
    return [
        subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for argv in commands
    ]


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for worker in workers:
        try:
            worker.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run_up(settings: Settings, options: UpOptions) -> int:
    """Run the platform until Ctrl-C, SIGTERM or ``options.duration`` seconds.

    Returns:
        The exit code: 0 after a requested stop, 1 when a worker or the feed failed.

    Raises:
        ConfigurationError: invalid Kafka security settings, or TLS/SASL asked of the
            embedded broker.
    """
    security = kafka_security_of(settings, embedded=not settings.kafka_bootstrap)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    with ExitStack() as stack:
        bootstrap = settings.kafka_bootstrap
        fresh_broker = not bootstrap
        if not bootstrap:
            broker = stack.enter_context(
                EmbeddedBroker(settings.state_dir, settings.embedded_kafka_port)
            )
            bootstrap = broker.bootstrap
        db_url = stack.enter_context(open_database_url(database_url_of(settings), settings.pgdata))
        migrate(db_url)
        retention_ms = retention_ms_of(settings.topic_retention_hours)
        create_topics(
            bootstrap,
            settings.partitions,
            settings.replication_factor,
            retention_ms=retention_ms,
            security=security,
        )
        engine = make_engine(db_url)
        stack.callback(engine.dispose)
        sessions = make_sessionmaker(engine)
        resume: int | None = None
        if fresh_broker:
            # The embedded broker keeps messages in memory: its topics start again at
            # offset 0, so offsets remembered from an earlier run no longer mean anything.
            with sessions() as session, session.begin():
                forget_offsets(session)
        if options.demo:
            with sessions() as session, session.begin():
                upsert_sites(session, [s.profile() for s in DEMO_SITES])
                resume = latest_reading_ms(session, [s.site_id for s in DEMO_SITES])
        workers = _start_workers(settings, bootstrap, db_url, options.workers)
        stack.callback(_stop_workers, workers)
        api = ApiProcess.start(settings, bootstrap, None if settings.database_url else db_url)
        stack.callback(api.stop)
        click.echo(_banner(bootstrap, db_url, settings, api.url))
        feed: _DemoFeed | None = None
        if options.demo:
            feed = _DemoFeed()
            stack.callback(feed.stop.set)
            threading.Thread(
                target=_run_demo, args=(bootstrap, options, feed, resume, security), daemon=True
            ).start()
        monitor = Monitor(sessions, started)
        try:
            code = _supervise(settings, options, stop, workers, feed, monitor)
        except KeyboardInterrupt:
            click.echo("stopping ...")
            code = 0
        finally:
            signal.signal(signal.SIGTERM, previous)
        click.echo(_summary(monitor, bootstrap, security))
    click.echo("stopped.")
    return code


def _supervise(
    settings: Settings,
    options: UpOptions,
    stop: threading.Event,
    workers: list[subprocess.Popen[bytes]],
    feed: "_DemoFeed | None",
    monitor: Monitor,
) -> int:
    """Print progress until asked to stop; 1 when a worker or the demo feed failed."""
    last_print = 0.0
    while not stop.is_set():
        elapsed = time.monotonic() - monitor.started
        if options.duration and elapsed >= options.duration:
            return 0
        if any(w.poll() is not None for w in workers):
            click.echo(f"a worker exited; see {settings.state_dir / 'worker.log'}", err=True)
            return 1
        if feed and feed.error:
            click.echo(f"demo producer failed: {feed.error}", err=True)
            return 1
        stop.wait(1.0)
        line = monitor.poll(feed.produced if feed else None)
        if time.monotonic() - last_print >= options.progress_every_s:
            click.echo(line)
            last_print = time.monotonic()
    return 0


def _summary(monitor: Monitor, bootstrap: str, security: KafkaSecurity) -> str:
    """Time to the first forecast and alert; throughput next to a raw consumer, same run."""

    def when(seconds: float | None) -> str:
        return "none yet" if seconds is None else f"{seconds:.0f} s after start"

    lines = [
        f"first forecast: {when(monitor.first_forecast_s)}; "
        f"first alert: {when(monitor.first_alert_s)}"
    ]
    rate = monitor.catch_up_rate()
    if rate is not None:
        readings, seconds = rate
        raw_readings, raw_seconds = raw_consumer_rate(bootstrap, SENSOR_READINGS, security=security)
        ours = readings / seconds
        raw = raw_readings / raw_seconds if raw_seconds > 0 else float("nan")
        lines.append(
            f"clean stage while catching up: {ours:,.0f} readings/s ({readings} in {seconds:.1f} s,"
            f" sampled every 1 s); raw aiokafka consumer + json.loads on the same topic: "
            f"{raw:,.0f} readings/s; ratio {ours / raw:.3f}"
        )
    return "\n".join(lines)
