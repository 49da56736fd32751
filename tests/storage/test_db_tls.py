"""PostgreSQL TLS: libpq's ssl* URL parameters pass through ``make_engine`` to psycopg2.

The embedded PostgreSQL is built without TLS and listens on a Unix socket only, so
:class:`tests.pg_tls_proxy.PostgresTLSProxy` does PostgreSQL's TLS negotiation in front of
it (real TLS, with a client certificate required), or answers as a server without TLS.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from gridbrain.cli.embedded import embedded_postgres_url, free_port
from gridbrain.cli.redact import mask_url
from gridbrain.storage.db import make_engine
from tests.certificates import Certificates, make_certificates, server_context
from tests.pg_tls_proxy import PostgresTLSProxy

PASSWORD = "Pg-S3cret-pw"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def socket_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an embedded PostgreSQL of this module (a Unix socket, no TLS)."""
    url, server = embedded_postgres_url(tmp_path_factory.mktemp("pg") / "pgdata")
    yield url
    server.cleanup()  # type: ignore[attr-defined]


def _socket_of(url: str) -> Path:
    folder = Path(parse_qs(urlsplit(url).query)["host"][0])
    return next(p for p in folder.glob(".s.PGSQL.*") if p.suffix != ".lock")


@pytest.fixture(scope="module")
def tls_port(socket_url: str, certs: Certificates) -> Iterator[tuple[int, PostgresTLSProxy]]:
    """A port on 127.0.0.1 speaking TLS (client certificate of the test CA required)."""
    port = free_port()
    with PostgresTLSProxy(server_context(certs, True), _socket_of(socket_url), port) as proxy:
        yield port, proxy


def _url(port: int, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres?{query}"


def _select_one(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT 1")).scalar_one())
    finally:
        engine.dispose()


def _refused(url: str, match: str) -> None:
    with pytest.raises(OperationalError, match=match) as refused:
        _select_one(url)
    assert PASSWORD not in str(refused.value)


@pytest.mark.integration
def test_verify_full_with_a_client_certificate(
    tls_port: tuple[int, PostgresTLSProxy], certs: Certificates
) -> None:
    port, proxy = tls_port
    refused = proxy.handshakes.count(("refused",)) + 2  # after the two refusals below
    tls = {"sslmode": "verify-full", "sslcert": certs.client_cert, "sslkey": certs.client_key}
    assert _select_one(_url(port, sslrootcert=certs.ca, **tls)) == 1
    assert proxy.handshakes[-1] == ((("commonName", "client"),),)  # the client's certificate
    _refused(_url(port, sslrootcert=certs.other_ca, **tls), "certificate verify failed")
    # Without a client certificate the handshake fails at the server (TLS 1.3: libpq may
    # notice only when the connection closes).
    no_certificate = _url(port, sslmode="verify-full", sslrootcert=certs.ca)
    _refused(no_certificate, "SSL|server closed the connection")
    deadline = time.monotonic() + 5
    while proxy.handshakes.count(("refused",)) < refused and time.monotonic() < deadline:
        time.sleep(0.05)  # the proxy's thread records the refusals (the wrong CA's, this one)
    assert proxy.handshakes.count(("refused",)) == refused
    _refused(_url(port, sslmode="bogus"), 'invalid sslmode value: "bogus"')


@pytest.mark.integration
def test_sslmode_against_a_server_without_tls(socket_url: str, certs: Certificates) -> None:
    port = free_port()
    with PostgresTLSProxy(None, _socket_of(socket_url), port) as proxy:
        for mode in ("require", "verify-ca", "verify-full"):
            _refused(
                _url(port, sslmode=mode, sslrootcert=certs.ca),
                "server does not support SSL, but SSL was required",
            )
        assert _select_one(_url(port, sslmode="prefer")) == 1
        assert _select_one(_url(port, sslmode="disable")) == 1
        assert proxy.plain == 2 and not proxy.handshakes


@pytest.mark.integration
def test_a_unix_socket_never_uses_tls(socket_url: str) -> None:
    """libpq skips TLS on Unix sockets, whatever sslmode says (the embedded database)."""
    engine = make_engine(f"{socket_url}&sslmode=require")
    try:
        with engine.connect() as connection:
            ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            assert connection.execute(text(ssl)).scalar_one() is False
    finally:
        engine.dispose()


def _cli(database_url: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDBRAIN_DATABASE_URL": database_url, "GRIDBRAIN_STATE_DIR": str(state)}
    command = [sys.executable, "-m", "gridbrain.cli", "sites", "list", "--format", "csv"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_the_cli_connects_through_tls_and_never_prints_the_password(
    tls_port: tuple[int, PostgresTLSProxy], certs: Certificates, tmp_path: Path
) -> None:
    port, proxy = tls_port
    tls = {"sslmode": "verify-full", "sslcert": certs.client_cert, "sslkey": certs.client_key}
    before = len(proxy.handshakes)
    ok = _cli(_url(port, sslrootcert=certs.ca, **tls), tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert len(proxy.handshakes) > before  # migrations and the query went through TLS
    refused = _cli(_url(port, sslrootcert=certs.other_ca, **tls), tmp_path)
    assert refused.returncode != 0
    assert "certificate verify failed" in refused.stderr
    assert PASSWORD not in refused.stdout + refused.stderr


def test_mask_url_keeps_the_tls_parameters() -> None:
    url = (
        f"postgresql://gridbrain:{PASSWORD}@db.example:5432/gridbrain?sslmode=verify-full"
        "&sslrootcert=/etc/gridbrain/ca.pem&sslcert=/etc/gridbrain/client.pem"
        f"&sslkey=/etc/gridbrain/client.key&sslpassword={PASSWORD}"
    )
    assert mask_url(url) == (
        "postgresql://gridbrain:***@db.example:5432/gridbrain?sslmode=verify-full"
        "&sslrootcert=/etc/gridbrain/ca.pem&sslcert=/etc/gridbrain/client.pem"
        "&sslkey=/etc/gridbrain/client.key&sslpassword=***"
    )
