"""``gridbrain ask``: a question in plain words, answered from the database."""

import json
import sys
from typing import Any

import click

from gridbrain.settings import Settings

__all__ = ["ask"]

#: Exit code when a question cannot be mapped to an intent and its slots.
EXIT_CANNOT = 3


def _shown(value: object) -> str:
    """A row's value as printed: floats to 4 significant digits, times to the minute."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        return value[:16] + value[-6:] if value[-6] in "+-" else value
    return str(value)


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
@click.option(
    "--local",
    is_flag=True,
    help="Load the model here even when the API answers on GRIDBRAIN_API_PORT.",
)
@click.pass_obj
def ask(settings: Settings, question: str, fmt: str, database_url: str | None, local: bool) -> None:
    """Answer QUESTION from the platform's tables (exit 3: it cannot be answered).

    When the API runs on this machine (`gridbrain up`), it answers at once; otherwise the
    sentence encoder is loaded here first (about 5 s).

    e.g. gridbrain ask "what will pv-north produce tomorrow at noon?"
    """
    body = None if local or database_url else _ask_the_api(settings, question)
    if body is not None:
        _show(body, fmt)
        return
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
            cache = settings.state_dir / "cache"
            understander = Understander(TextEncoder("cpu").embed, cache=cache)
            answer = Asker(db, understander).ask(question)
        finally:
            db.dispose()
    _show(answer.as_json(), fmt)


def _ask_the_api(settings: Settings, question: str) -> dict[str, Any] | None:
    """The API's answer when it runs on this machine (None: not there, ask here)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"http://127.0.0.1:{settings.api_port}/ask?" + urllib.parse.urlencode({"q": question})
    token = settings.api_read_token or settings.api_write_token
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            body: dict[str, Any] = json.load(r)
            return body
    except urllib.error.HTTPError as exc:
        if exc.code == 422:  # answered: it cannot be mapped (or the question is too long)
            refused: dict[str, Any] = json.load(exc)
            return refused if "answered" in refused else None
        return None
    except (OSError, ValueError):
        return None


def _show(body: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(body, default=str, indent=1))
    else:
        click.echo(body["sentence"])
        rows = body["rows"]
        for row in rows[:24]:
            click.echo("  " + ", ".join(f"{k}={_shown(v)}" for k, v in row.items()))
        if len(rows) > 24:
            click.echo(f"  ... {len(rows) - 24} more rows (--format json has them all)")
    if not body["answered"]:
        sys.exit(EXIT_CANNOT)
