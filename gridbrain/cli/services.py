"""Resolving the services a command uses: external ones named by settings, else embedded."""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from gridbrain.cli.embedded import open_database_url
from gridbrain.errors import ConfigurationError
from gridbrain.settings import Settings
from gridbrain.storage.db import make_engine, make_sessionmaker, migrate
from gridbrain.streams.kafka_security import KafkaSecurity

__all__ = [
    "database",
    "database_url_of",
    "embedded_kafka_env",
    "kafka_security_of",
    "worker_command",
]


def database_url_of(settings: Settings) -> str | None:
    """The external database URL, if one is configured."""
    return settings.database_url.get_secret_value() if settings.database_url else None


@contextmanager
def database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database (the embedded one is started or joined)."""
    with open_database_url(database_url_of(settings), settings.pgdata) as url:
        migrate(url)
        engine = make_engine(url)
        try:
            yield make_sessionmaker(engine)
        finally:
            engine.dispose()


def kafka_security_of(settings: Settings, embedded: bool) -> KafkaSecurity:
    """The TLS/SASL options of the broker a command uses (``embedded``: the embedded one).

    Raises:
        ConfigurationError: the security settings are inconsistent, or TLS/SASL is asked of
            the embedded broker, which speaks plaintext only (set GRIDBRAIN_KAFKA_BOOTSTRAP).
    """
    security = KafkaSecurity.from_settings(settings)
    if embedded and security.protocol != "PLAINTEXT":
        raise ConfigurationError(
            f"GRIDBRAIN_KAFKA_SECURITY_PROTOCOL={security.protocol} needs an external Kafka "
            "(GRIDBRAIN_KAFKA_BOOTSTRAP): the embedded broker speaks PLAINTEXT only"
        )
    return security


def embedded_kafka_env() -> dict[str, str]:
    """The environment of a worker on the embedded broker: ours, with Kafka TLS/SASL off."""
    secured = ("GRIDBRAIN_KAFKA_SECURITY_", "GRIDBRAIN_KAFKA_SASL_", "GRIDBRAIN_KAFKA_SSL_")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(secured)}
    return env | {"GRIDBRAIN_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}


def worker_command(
    bootstrap: str, database_url: str | None, roles: tuple[str, ...] = (), metrics_port: int = 0
) -> list[str]:
    """The command line of a ``gridbrain worker`` process running ``roles`` (default: all).

    ``database_url`` is passed on the command line only for embedded databases (they hold
    no secret); None leaves it to ``GRIDBRAIN_DATABASE_URL``. The worker serves its
    metrics on ``metrics_port`` (0: any free port; ``gridbrain status`` shows which).
    """
    command = [sys.executable, "-m", "gridbrain.cli", "worker", "--kafka-bootstrap", bootstrap]
    command += ["--metrics-port", str(metrics_port)]
    if database_url is not None:
        command += ["--database-url", database_url]
    for role in roles:
        command += ["--role", role]
    return command
