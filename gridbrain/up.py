"""``gridbrain up``: start the stack, the workers and (optionally) the demo feed."""

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import click

from gridbrain.demo import DEMO_SITES, simulate
from gridbrain.embedded import EmbeddedBroker, open_database_url
from gridbrain.services import database_url_of
from gridbrain.settings import Settings
from storage.db import make_engine, make_sessionmaker, migrate
from storage.queries import stage_counts, table_counts
from storage.repositories import upsert_sites
from streams.producer import produce
from streams.topics import SENSOR_READINGS, WEATHER_OBSERVATIONS, create_topics

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
    done: bool = False
    error: BaseException | None = None
    stop: threading.Event = field(default_factory=threading.Event)


def _banner(bootstrap: str, db_url: str, settings: Settings) -> str:
    psql_hint = (
        f"psql '{db_url}'" if "host=" in db_url or "@" in db_url else "psql <your database URL>"
    )
    return f"""
Gridbrain is up.
  Kafka bootstrap : {bootstrap}   (produce JSON to {SENSOR_READINGS}, {WEATHER_OBSERVATIONS})
  Database        : {db_url}
  State directory : {settings.state_dir.resolve()}
Try, in another terminal:
  gridbrain status
  gridbrain forecasts --site pv-north --quantity pv_power
  gridbrain alerts
  {psql_hint} -c "SELECT site_id, quantity, target_ts, p10, p50, p90, model FROM forecasts
     WHERE issued_at = (SELECT max(issued_at) FROM forecasts) ORDER BY 1, 2, 3 LIMIT 20"
Ctrl-C stops everything.
"""


def demo_messages(
    days: float, live: bool = False, stop: threading.Event | None = None
) -> Iterator[tuple[str, bytes | None, bytes]]:
    """Demo messages from ``days`` ago up to now; with ``live``, then on in real time."""
    now = int(time.time() * 1000)
    start = now - int(days * 86_400_000)
    end = now + 3650 * 86_400_000 if live else now
    for message in simulate(start, end):
        while message.ts_ms > time.time() * 1000:
            if stop is not None and stop.wait(1.0):
                return
        yield message.topic, message.key.encode(), message.value


def _run_demo(bootstrap: str, options: UpOptions, feed: _DemoFeed) -> None:
    def sent(n: int) -> None:
        feed.produced += n

    try:
        produce(
            bootstrap,
            demo_messages(options.demo_days, True, feed.stop),
            options.demo_rate,
            sent,
            feed.stop.is_set,
        )
    except BaseException as exc:  # reported by the main thread, which decides to stop
        feed.error = exc
    finally:
        feed.done = True


def _progress(sessions_url: str, started: float, feed: _DemoFeed | None) -> str:
    engine = make_engine(sessions_url)
    try:
        with make_sessionmaker(engine)() as session:
            counts = stage_counts(session)
            tables = table_counts(session)
    finally:
        engine.dispose()
    readings = counts.get(("clean", SENSOR_READINGS), {})
    produced = f"produced {feed.produced:>7} msgs | " if feed else ""
    return (
        f"[{time.monotonic() - started:6.0f}s] {produced}readings received "
        f"{readings.get('received', 0):>8} processed {readings.get('processed', 0):>8} "
        f"dup {readings.get('duplicates', 0):>4} dead {readings.get('deadlettered', 0):>4} | "
        f"rows: readings {tables['readings']} forecasts {tables['forecasts']} "
        f"alerts {tables['alerts']}"
    )


def _start_workers(
    settings: Settings, bootstrap: str, db_url: str, n: int
) -> list[subprocess.Popen[bytes]]:
    log = (settings.state_dir / "worker.log").open("ab")
    command = [sys.executable, "-m", "gridbrain.cli", "worker", "--kafka-bootstrap", bootstrap]
    if not settings.database_url:
        command += ["--database-url", db_url]  # the embedded one holds no secret
    return [
        subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(n)
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
    """
    code = 0
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    with ExitStack() as stack:
        bootstrap = settings.kafka_bootstrap
        if not bootstrap:
            broker = stack.enter_context(
                EmbeddedBroker(settings.state_dir, settings.embedded_kafka_port)
            )
            bootstrap = broker.bootstrap
        db_url = stack.enter_context(open_database_url(database_url_of(settings), settings.pgdata))
        migrate(db_url)
        create_topics(bootstrap, settings.partitions, settings.replication_factor)
        if options.demo:
            engine = make_engine(db_url)
            with make_sessionmaker(engine)() as session, session.begin():
                upsert_sites(session, [s.as_row() for s in DEMO_SITES])
            engine.dispose()
        workers = _start_workers(settings, bootstrap, db_url, options.workers)
        stack.callback(_stop_workers, workers)
        click.echo(_banner(bootstrap, db_url, settings))
        feed: _DemoFeed | None = None
        if options.demo:
            feed = _DemoFeed()
            stack.callback(feed.stop.set)
            threading.Thread(target=_run_demo, args=(bootstrap, options, feed), daemon=True).start()
        try:
            while not stop.is_set():
                if options.duration and time.monotonic() - started >= options.duration:
                    break
                if any(w.poll() is not None for w in workers):
                    click.echo(
                        f"a worker exited; see {settings.state_dir / 'worker.log'}", err=True
                    )
                    code = 1
                    break
                if feed and feed.error:
                    click.echo(f"demo producer failed: {feed.error}", err=True)
                    code = 1
                    break
                stop.wait(options.progress_every_s)
                click.echo(_progress(db_url, started, feed))
        except KeyboardInterrupt:
            click.echo("stopping ...")
        finally:
            signal.signal(signal.SIGTERM, previous)
    click.echo("stopped.")
    return code
