"""The ``gridbrain`` command line. Settings are built here, once, and passed down."""

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gridbrain.cli.output import render
from gridbrain.errors import ConfigurationError, GridbrainError
from gridbrain.settings import Settings

if TYPE_CHECKING:
    from gridbrain.processors.sites import SiteProfile

__all__ = ["main"]

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)


class _LazyGroup(click.Group):
    """A group whose heavier commands are imported only when they run (or help lists them).

    The command line starts without torch, pandas or the models: ``gridbrain status`` does
    not pay for ``gridbrain train``.
    """

    #: name -> (module:command, the line ``--help`` lists it with)
    _LAZY = {
        "alerts": ("gridbrain.cli.alerts_cli:alerts", "Show alert incidents, newest first."),
        "api": ("gridbrain.cli.api_cli:api", "Serve the HTTP API and the live page."),
        "worker": ("gridbrain.cli.worker_cli:worker", "Run a stream worker (a Faust worker)."),
        "ask": ("gridbrain.cli.ask_cli:ask", "Answer a question in plain words."),
        "silence": ("gridbrain.cli.alerts_cli:silence", "Mute notifications of matching alerts."),
        "rules": ("gridbrain.cli.alerts_cli:rules", "Inspect the alert rules."),
        "benchmark": ("gridbrain.cli.benchmark:benchmark", "Measure the stages and the models."),
        "backtest": ("gridbrain.cli.models_cli:backtest", "Rolling-origin back-test of models."),
        "train": ("gridbrain.cli.models_cli:train", "Train, back-test and register a model."),
        "models": ("gridbrain.cli.models_cli:models", "The model registry."),
        "retention": ("gridbrain.cli.retention_cli:retention", "Delete old rows."),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._LAZY:
            module, name = self._LAZY[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module), name)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List every command without importing the lazy ones (their line is stored)."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self._LAZY:
                rows.append((name, self._LAZY[name][1]))
                continue
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Gridbrain: stream processing for renewable energy and environment monitoring."""
    ctx.obj = Settings()


@cli.command()
@click.option("--demo", is_flag=True, help="Feed the built-in simulated fleet.")
@click.option("--duration", type=float, help="Stop by itself after this many seconds.")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Ingest worker processes (plus one forecaster).",
)
@click.option(
    "--demo-days",
    type=float,
    default=3.0,
    show_default=True,
    help="Days of simulated history the demo replays up to now.",
)
@click.option("--demo-rate", type=float, help="Demo messages per second (default: unlimited).")
@click.pass_obj
def up(
    settings: Settings,
    demo: bool,
    duration: float | None,
    workers: int,
    demo_days: float,
    demo_rate: float | None,
) -> None:
    """Start the platform (embedded broker and database unless configured otherwise)."""
    from gridbrain.cli.up import UpOptions, run_up

    sys.exit(run_up(settings, UpOptions(demo, duration, workers, demo_days, demo_rate)))


@cli.command()
@click.pass_obj
def init(settings: Settings) -> None:
    """Create the topics and migrate the database schema (one-shot; idempotent)."""
    from gridbrain.cli.services import database, kafka_security_of
    from gridbrain.streams.topics import create_topics, retention_ms_of

    if not settings.kafka_bootstrap:
        raise click.UsageError("init needs GRIDBRAIN_KAFKA_BOOTSTRAP (up does this for embedded)")
    created = create_topics(
        settings.kafka_bootstrap,
        settings.partitions,
        settings.replication_factor,
        retention_ms=retention_ms_of(settings.topic_retention_hours),
        security=kafka_security_of(settings, embedded=False),
    )
    with database(settings):
        pass
    click.echo(f"topics created: {', '.join(created) or 'none (all existed)'}; schema at head")


@cli.command()
@click.option("--demo", "demo_days", type=float, help="Simulate this many days up to now.")
@click.option("--live", is_flag=True, help="With --demo: then go on in real time until stopped.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, path_type=Path),
    help="A CSV or Parquet file to replay (needs --mapping).",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, path_type=Path),
    help="YAML mapping of CSV columns to readings.",
)
@click.option("--rate", type=float, help="Messages per second (default: as fast as possible).")
@click.option(
    "--speed", type=float, help="With --csv: N times real time by event time (default: unpaced)."
)
@click.option("--kafka-bootstrap", help="Overrides GRIDBRAIN_KAFKA_BOOTSTRAP.")
@click.pass_obj
def produce(
    settings: Settings,
    demo_days: float | None,
    live: bool,
    csv_path: Path | None,
    mapping: Path | None,
    rate: float | None,
    speed: float | None,
    kafka_bootstrap: str | None,
) -> None:
    """Produce readings to Kafka: from the simulator or from a CSV file and a mapping.

    A mapping's ``sites:`` are registered in the database before the replay starts.
    """
    from tqdm import tqdm

    from gridbrain.cli.replay import load_mapping, replay_file
    from gridbrain.cli.services import kafka_security_of
    from gridbrain.cli.up import demo_messages
    from gridbrain.streams.producer import produce as send

    bootstrap = (
        kafka_bootstrap or settings.kafka_bootstrap or f"127.0.0.1:{settings.embedded_kafka_port}"
    )
    security = kafka_security_of(
        settings, embedded=not (kafka_bootstrap or settings.kafka_bootstrap)
    )
    if csv_path is not None:
        if mapping is None:
            raise click.UsageError("--csv needs --mapping")
        file_mapping = load_mapping(mapping)
        if file_mapping.sites:
            _register_sites(settings, file_mapping.sites)
        replay = replay_file(csv_path, file_mapping, speed)
        messages, total = replay.messages, replay.total
        click.echo(
            f"{replay.readings} readings and {replay.observations} weather observations in "
            f"{replay.total} messages; {replay.missing_values} missing values and "
            f"{replay.skipped_rows} rows without a usable timestamp skipped",
            err=True,
        )
    elif demo_days is not None:
        messages, total = demo_messages(demo_days, live), None
    else:
        raise click.UsageError("give --demo DAYS or --csv FILE --mapping FILE")
    with tqdm(total=total, unit="msg", desc="producing") as bar:
        stats = send(bootstrap, messages, rate, bar.update, security=security)
    click.echo(
        f"sent {stats.messages} messages ({stats.bytes / 1e6:.1f} MB) in {stats.seconds:.1f} s"
    )


def _register_sites(settings: Settings, profiles: "list[SiteProfile]") -> None:
    from gridbrain.cli.services import database
    from gridbrain.storage.sites import upsert_sites

    with database(settings) as sessions, sessions.begin() as session:
        upsert_sites(session, profiles)


@cli.group()
def sites() -> None:
    """Site metadata: position, capacity, weather station, quality-check overrides."""


@sites.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def sites_load(settings: Settings, path: Path) -> None:
    """Register or update the sites listed in a YAML file (a list of site profiles).

    Running workers read a site's profile when they first see the site: restart them to
    apply changes to sites they already know.
    """
    import yaml
    from pydantic import TypeAdapter, ValidationError

    from gridbrain.processors.sites import SiteProfile

    try:
        profiles = TypeAdapter(list[SiteProfile]).validate_python(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
    _register_sites(settings, profiles)
    click.echo(f"{len(profiles)} sites registered")


@sites.command("list")
@_FORMAT
@click.pass_obj
def sites_list(settings: Settings, fmt: str) -> None:
    """Show every registered site."""
    from gridbrain.cli.services import database
    from gridbrain.storage.sites import site_ids, site_profiles

    with database(settings) as sessions, sessions() as session:
        profiles = site_profiles(session, site_ids(session))
    rows = [
        p.model_dump(exclude={"quality"}) | {"quality": p.quality or None}
        for p in profiles.values()
    ]
    click.echo(render(rows, fmt))


@cli.command()
@click.option("--site")
@click.option("--quantity")
@click.option(
    "--horizons",
    type=int,
    default=4,
    show_default=True,
    help="Target steps shown per series (0: all).",
)
@click.option("--limit", type=int, default=1000, show_default=True)
@_FORMAT
@click.pass_obj
def forecasts(
    settings: Settings,
    site: str | None,
    quantity: str | None,
    horizons: int,
    limit: int,
    fmt: str,
) -> None:
    """Show the newest forecast of each series (p10/p50/p90 per target time)."""
    from gridbrain.cli.services import database
    from gridbrain.storage.forecast_queries import latest_forecasts

    with database(settings) as sessions, sessions() as session:
        click.echo(render(latest_forecasts(session, site, quantity, horizons, limit), fmt))


@cli.command()
@click.option("--site", required=True, help="The dispatched site.")
@_FORMAT
@click.pass_obj
def schedule(settings: Settings, site: str, fmt: str) -> None:
    """Show the newest dispatch plan of a site: battery, grid, SOC and price per step.

    The plan's status, objective and solve time head the table; a fallback plan says why.
    """
    from gridbrain.cli.services import database
    from gridbrain.storage.schedules import latest_schedule

    with database(settings) as sessions, sessions() as session:
        rows = latest_schedule(session, site)
    if not rows:
        raise click.ClickException(f"no schedule for site {site!r} yet")
    if fmt == "table":
        first = rows[0]
        click.echo(
            f"{site}: plan issued {first['issued_at']:%Y-%m-%d %H:%M %Z} by {first['policy']}, "
            f"status {first['status']}, objective {first['objective']:.4f}, "
            f"solved in {first['solve_s']:.3f} s"
            + (f"\nreason: {first['reason']}" if first["reason"] else "")
        )
        shown = ("ts", "charge_kw", "discharge_kw", "soc", "grid_import_kw", "grid_export_kw")
        rows = [{k: r[k] for k in (*shown, "load_kw", "pv_kw", "price")} for r in rows]
    click.echo(render(rows, fmt))


@cli.command()
@click.option("--site")
@_FORMAT
@click.pass_obj
def quality(settings: Settings, site: str | None, fmt: str) -> None:
    """Per site: readings processed, and what each check dropped (by reason)."""
    from gridbrain.cli.services import database
    from gridbrain.storage.queries import quality_counts

    with database(settings) as sessions, sessions() as session:
        click.echo(render(quality_counts(session, site), fmt))


@cli.command()
@_FORMAT
@click.pass_obj
def status(settings: Settings, fmt: str) -> None:
    """Counts per stage and consumer lag; then the workers: partitions, outages, quarantines.

    JSON: ``{"stages": [...], "workers": [...]}``.
    """
    from gridbrain.cli.status import collect_status

    stages, workers = collect_status(settings)
    if fmt == "json":
        click.echo(json.dumps({"stages": stages, "workers": workers}, default=str, indent=1))
        return
    click.echo(render(stages, fmt))
    click.echo()
    click.echo(render(workers, fmt) if workers else "(no worker reported in the last minute)")


def main() -> None:
    """Entry point: run the CLI, turning Gridbrain errors into a message and exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cli()
    except GridbrainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
