"""``gridbrain alerts``, ``gridbrain silence ...`` and ``gridbrain rules ...``."""

import getpass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from gridbrain.cli.output import render
from gridbrain.errors import ConfigurationError
from gridbrain.settings import Settings

__all__ = ["alerts", "rules", "silence"]

_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table"
)


@click.command()
@click.option("--site")
@click.option("--rule", help="Only incidents of this rule.")
@click.option("--state", type=click.Choice(["pending", "firing", "resolved", "inactive"]))
@click.option("--history", "history_id", type=int, help="Show this incident's state history.")
@click.option("--limit", type=int, default=100, show_default=True)
@_FORMAT
@click.pass_obj
def alerts(
    settings: Settings,
    site: str | None,
    rule: str | None,
    state: str | None,
    history_id: int | None,
    limit: int,
    fmt: str,
) -> None:
    """Show alert incidents, newest first (or one incident's state history)."""
    from gridbrain.cli.services import database
    from gridbrain.storage.alerts import alert_history
    from gridbrain.storage.queries import list_alerts

    with database(settings) as sessions, sessions() as session:
        if history_id is not None:
            click.echo(render(alert_history(session, history_id), fmt))
        else:
            click.echo(render(list_alerts(session, site, state, limit, rule), fmt))


@click.group()
def silence() -> None:
    """Mute notifications of matching alerts for a while."""


@silence.command("add")
@click.option(
    "-m",
    "--match",
    "matchers",
    multiple=True,
    required=True,
    help="label=value, label!=value, label=~regex or label!~regex (repeat: all must match).",
)
@click.option("--duration", default="2h", show_default=True, help="e.g. 30m, 2h, 1d.")
@click.option("--starts", help="ISO time it starts (default: now).")
@click.option("--comment", default="", help="Why.")
@click.option("--author", help="Who (default: the login name).")
@click.pass_obj
def silence_add(
    settings: Settings,
    matchers: tuple[str, ...],
    duration: str,
    starts: str | None,
    comment: str,
    author: str | None,
) -> None:
    """Create a silence; print its id."""
    from gridbrain.cli.services import database
    from gridbrain.processors.alerting.rules import parse_duration_ms
    from gridbrain.storage.alerts import add_silence

    try:
        start = datetime.fromisoformat(starts) if starts else datetime.now(UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        end = start + timedelta(milliseconds=parse_duration_ms(duration))
        with database(settings) as sessions, sessions.begin() as session:
            silence_id = add_silence(
                session, list(matchers), start, end, author or getpass.getuser(), comment
            )
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    click.echo(f"silence {silence_id}: {' '.join(matchers)} until {end.isoformat()}")


@silence.command("list")
@click.option("--all", "include_expired", is_flag=True, help="Include expired silences.")
@_FORMAT
@click.pass_obj
def silence_list(settings: Settings, include_expired: bool, fmt: str) -> None:
    """Silences, newest first."""
    from gridbrain.cli.services import database
    from gridbrain.storage.alerts import list_silences

    with database(settings) as sessions, sessions() as session:
        rows = list_silences(session, datetime.now(UTC), include_expired)
    click.echo(render(rows, fmt))


@silence.command("expire")
@click.argument("silence_id", type=int)
@click.pass_obj
def silence_expire(settings: Settings, silence_id: int) -> None:
    """End a silence now."""
    from gridbrain.cli.services import database
    from gridbrain.storage.alerts import expire_silence

    with database(settings) as sessions, sessions.begin() as session:
        if not expire_silence(session, silence_id, datetime.now(UTC)):
            raise ConfigurationError(f"no running silence {silence_id}")
    click.echo(f"silence {silence_id} expired")


@click.group()
def rules() -> None:
    """Inspect the alert rules."""


@rules.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@_FORMAT
@click.pass_obj
def rules_check(settings: Settings, path: Path | None, fmt: str) -> None:
    """Validate a rules file (default: the configured one) and list its rules."""
    from gridbrain.processors.alerting.rules import load_rules

    ruleset = load_rules(path or settings.alert_rules_file)
    rows = [
        {
            "name": r.name,
            "quantity": r.quantity or "",
            "expression": r.aqi_table or r.expression,
            "when": f"{r.op} {r.threshold:g}",
            "recovery": r.recovers_at,
            "for_min": r.for_ms / 60_000,
            "severity": r.severity,
            "labels": ",".join(f"{k}={v}" for k, v in r.labels.items()),
        }
        for r in ruleset.rules
    ]
    click.echo(render(rows, fmt))
    click.echo(
        f"{len(ruleset.rules)} rules, {len(ruleset.inhibit)} inhibition rules: valid", err=True
    )
