"""``gridbrain api``: the HTTP API and the live page."""

import click

from gridbrain.settings import Settings

__all__ = ["api"]


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), help="Overrides GRIDBRAIN_API_PORT.")
@click.option("--kafka-bootstrap", help="Overrides GRIDBRAIN_KAFKA_BOOTSTRAP (for readiness).")
@click.option("--database-url", help="Overrides the database URL (embedded: started or joined).")
@click.pass_obj
def api(
    settings: Settings, port: int | None, kafka_bootstrap: str | None, database_url: str | None
) -> None:
    """Serve the HTTP API and the live page (OpenAPI at /docs)."""
    from gridbrain.api.server import serve_api
    from gridbrain.cli.embedded import open_database_url
    from gridbrain.cli.services import database_url_of, kafka_security_of
    from gridbrain.storage.db import migrate

    bootstrap = kafka_bootstrap or settings.kafka_bootstrap
    security = kafka_security_of(settings, embedded=not bootstrap)
    if not bootstrap:
        bootstrap = f"127.0.0.1:{settings.embedded_kafka_port}"
    own = settings.api_database_url.get_secret_value() if settings.api_database_url else None
    with open_database_url(
        own or database_url or database_url_of(settings), settings.pgdata
    ) as url:
        if own is None:
            migrate(url)  # the API's own read-only login cannot migrate; the platform's can
        serve_api(settings, url, bootstrap, settings.api_port if port is None else port, security)
