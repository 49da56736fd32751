"""Session fixtures: the real broker and the real PostgreSQL, embedded unless named by settings.

Set GRIDBRAIN_KAFKA_BOOTSTRAP and GRIDBRAIN_DATABASE_URL to run against external services.
"""

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gridbrain.cli.embedded import EmbeddedBroker, free_port, open_database_url
from gridbrain.cli.services import database_url_of, worker_command
from gridbrain.settings import Settings
from gridbrain.storage.db import make_engine, make_sessionmaker, migrate
from gridbrain.storage.transaction import run_batch
from gridbrain.streams.envelope import RawMessage
from gridbrain.streams.topics import create_topics, retention_ms_of


@dataclass(frozen=True)
class Services:
    bootstrap: str
    database_url: str
    sessions: sessionmaker[Session]
    state_dir: Path


@contextmanager
def running_services(state: Path) -> Iterator[Services]:
    """The broker and database named by settings, or embedded ones under ``state``."""
    settings = Settings()
    broker = None
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        broker = EmbeddedBroker(state, free_port())
        broker.start()
        bootstrap = broker.bootstrap
    try:
        with open_database_url(database_url_of(settings), state / "pgdata") as url:
            migrate(url)
            retention_ms = retention_ms_of(settings.topic_retention_hours)
            create_topics(bootstrap, settings.partitions, retention_ms=retention_ms)
            engine = make_engine(url)
            yield Services(bootstrap, url, make_sessionmaker(engine), state)
            engine.dispose()
    finally:
        if broker is not None:
            broker.stop()


@contextmanager
def running_worker(
    services: Services, roles: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[Popen[bytes]]:
    """A real Faust worker process running ``roles`` (default: every stage).

    ``env`` adds settings (``GRIDBRAIN_...`` variables) for this worker.
    """
    log = (services.state_dir / "worker.log").open("ab")
    env = {**os.environ, "GRIDBRAIN_LOG_LEVEL": "INFO", **(env or {})}
    command = worker_command(services.bootstrap, services.database_url, roles)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(1.0)


def apply_batch(
    services: Services,
    stage: str,
    handle: Callable[..., list[Any]],
    messages: list[RawMessage],
) -> list[Any]:
    """Run a stage handler on ``messages`` in one committed batch, as the executor does."""
    partitions = {(m.position.topic, m.position.partition) for m in messages}
    return run_batch(services.sessions, stage, partitions, lambda tx: handle(tx, messages))
