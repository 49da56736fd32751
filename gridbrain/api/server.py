"""``gridbrain api``: serve the API with uvicorn, on loopback only unless tokens are set."""

import ipaddress
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from gridbrain.api.access import Access
from gridbrain.api.app import create_app
from gridbrain.api.database import ApiDatabase
from gridbrain.api.routes_ask import AskerHolder
from gridbrain.api.state import ApiState
from gridbrain.cli.redact import mask_url
from gridbrain.errors import OutageError
from gridbrain.settings import Settings
from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity

__all__ = ["bind_host", "serve_api", "serving"]

_log = logging.getLogger(__name__)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_host(settings: Settings, access: Access) -> tuple[str, str | None]:
    """The address to listen on, and a warning to print when it was narrowed.

    >>> bind_host(Settings(api_host="0.0.0.0"), Access())[0]
    '127.0.0.1'
    """
    host = settings.api_host
    if access.enabled or _loopback(host):
        note = None if access.enabled else "no API token is set: serving 127.0.0.1 only"
        return host, note
    return "127.0.0.1", (
        f"no API token is set: serving 127.0.0.1 only, not {host} "
        "(set GRIDBRAIN_API_READ_TOKEN / GRIDBRAIN_API_WRITE_TOKEN to serve other hosts)"
    )


def serve_api(
    settings: Settings,
    database_url: str,
    bootstrap: str | None,
    port: int,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Serve until interrupted; print the URLs first."""
    import uvicorn

    access = Access(settings.api_read_token, settings.api_write_token)
    own_login = settings.api_database_url is not None
    try:
        db = ApiDatabase.connect(database_url, settings.api_statement_timeout_ms, own_login)
    except OperationalError as exc:
        # The driver's message names the host, never the password; the URL is masked.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise OutageError(f"the API cannot reach {mask_url(database_url)}: {reason}") from None
    state = ApiState(db, access, bootstrap, max(60.0, 6 * settings.worker_report_s), security)
    app = create_app(
        state, settings.api_max_body_bytes, settings.api_rate_per_s, settings.api_rate_burst
    )
    app.state.asker = AskerHolder(settings.state_dir / "cache")
    app.state.asker.warm(state)  # the sentence encoder for /ask loads in the background
    host, note = bind_host(settings, access)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Gridbrain API at http://{shown}:{port}/  (docs: /docs, OpenAPI: /openapi.json)")
    role = "gridbrain_api" if db.role else "own login" if own_login else "platform user, read-only"
    tokens = "required (read / write)" if access.enabled else "none"
    click.echo(f"tokens: {tokens}; database role: {role}")
    if note:
        click.echo(note, err=True)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            access_log=False,
            server_header=False,
        )
    finally:
        db.dispose()


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread of this process; yield its base URL.

    For benchmarks and tests: the same server as ``gridbrain api``, on a free port.
    """
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(10)
