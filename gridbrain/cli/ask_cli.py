"""``gridbrain ask``: a question in plain words, answered from the database."""

import json
import sys

import click

from gridbrain.settings import Settings

__all__ = ["ask"]

#: Exit code when a question cannot be mapped to an intent and its slots.
EXIT_CANNOT = 3


@click.command()
@click.argument("question")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the intent, the slots, the rows and the sentence.",
)
@click.option("--database-url", help="Overrides the database URL (embedded: started or joined).")
@click.pass_obj
def ask(settings: Settings, question: str, fmt: str, database_url: str | None) -> None:
    """Answer QUESTION from the platform's tables (exit 3: it cannot be answered).

    e.g. gridbrain ask "what will pv-north produce tomorrow at noon?"
    """
    from gridbrain.api.asking import Asker
    from gridbrain.api.database import ApiDatabase
    from gridbrain.cli.embedded import open_database_url
    from gridbrain.cli.services import database_url_of
    from gridbrain.processors.language.understand import Understander
    from gridbrain.processors.text.encoder import TextEncoder
    from gridbrain.storage.db import migrate

    own = settings.api_database_url.get_secret_value() if settings.api_database_url else None
    with open_database_url(
        own or database_url or database_url_of(settings), settings.pgdata
    ) as url:
        if own is None:
            migrate(url)
        db = ApiDatabase.connect(url, settings.api_statement_timeout_ms, own is not None)
        try:
            understander = Understander(TextEncoder("cpu").embed)
            answer = Asker(db, understander).ask(question)
        finally:
            db.dispose()
    if fmt == "json":
        click.echo(json.dumps(answer.as_json(), default=str, indent=1))
    else:
        click.echo(answer.sentence)
        for row in answer.rows[:24]:
            click.echo("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
        if len(answer.rows) > 24:
            click.echo(f"  ... {len(answer.rows) - 24} more rows (--format json has them all)")
    if not answer.answered:
        sys.exit(EXIT_CANNOT)
