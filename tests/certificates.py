"""Test certificates made with the ``openssl`` command line: a CA, a server certificate for
127.0.0.1, a client certificate and an unrelated CA (for TLS tests of Kafka and PostgreSQL).
"""

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
    )  # fmt: skip
    return cert, key


def _leaf(folder: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    cert, key, request = folder / f"{name}.pem", folder / f"{name}.key", folder / f"{name}.csr"
    ext = folder / f"{name}.ext"
    ext.write_text(extensions)
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", request, "-subj", f"/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", request, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext,
    )  # fmt: skip
    key.chmod(0o600)  # libpq refuses a client key others may read
    return cert, key


def make_certificates(folder: Path) -> Certificates:
    """A test CA; a server certificate naming IP 127.0.0.1 only; a client certificate."""
    ca = _ca(folder, "test-ca")
    server = _leaf(
        folder,
        "broker",
        ca,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    client = _leaf(folder, "client", ca, "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    other_ca, _ = _ca(folder, "other-ca")
    return Certificates(ca[0], *server, *client, other_ca)


def server_context(certs: Certificates, require_client_cert: bool = False) -> ssl.SSLContext:
    """A TLS server context with the server certificate (``require_client_cert``: mutual TLS)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(certs.ca)
    return context
