"""``gridbrain worker``: one Faust worker running some or all stages, with its metrics."""

import click

from gridbrain.settings import Settings

__all__ = ["worker"]


@click.command()
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["clean", "forecast", "alert", "dispatch"]),
    help="Stages to run (default: all).",
)
@click.option("--kafka-bootstrap", help="Overrides GRIDBRAIN_KAFKA_BOOTSTRAP.")
@click.option("--database-url", help="Overrides GRIDBRAIN_DATABASE_URL.")
@click.option(
    "--metrics-port",
    type=click.IntRange(-1, 65535),
    help="Port of /metrics (overrides GRIDBRAIN_METRICS_PORT; 0: any free port; -1: off).",
)
@click.pass_obj
def worker(
    settings: Settings,
    roles: tuple[str, ...],
    kafka_bootstrap: str | None,
    database_url: str | None,
    metrics_port: int | None,
) -> None:
    """Run a stream worker (a Faust worker) on external or given services."""
    import faust

    from gridbrain.streams import metrics
    from gridbrain.streams.app import ROLES, build_app

    bootstrap = kafka_bootstrap or settings.kafka_bootstrap
    url = database_url or (
        settings.database_url.get_secret_value() if settings.database_url else None
    )
    if not bootstrap or not url:
        raise click.UsageError(
            "a worker needs GRIDBRAIN_KAFKA_BOOTSTRAP and GRIDBRAIN_DATABASE_URL"
        )
    chosen = tuple(r for r in ROLES if not roles or r in roles)
    port = settings.metrics_port if metrics_port is None else metrics_port
    served = metrics.serve(port, settings.metrics_host) if port >= 0 else None
    app = build_app(settings, bootstrap, url, chosen, served)
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
