"""Kafka TLS and SASL: the options every client gets, and real round trips through TLS/SASL.

The round trips through a real TLS/SASL front are in ``test_kafka_security_round_trips.py``.
"""

import logging
import ssl
from pathlib import Path

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from gridbrain.cli.services import embedded_kafka_env, kafka_security_of
from gridbrain.errors import ConfigurationError
from gridbrain.settings import Settings
from gridbrain.streams.app import build_app
from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity
from tests.certificates import Certificates

PASSWORD = "Kafka-S3cret-pw"
USER = "gridbrain"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def sasl(mechanism: str = "PLAIN", password: str = PASSWORD, **tls: object) -> KafkaSecurity:
    protocol = "SASL_SSL" if tls else "SASL_PLAINTEXT"
    return KafkaSecurity(protocol, mechanism, USER, SecretStr(password), **tls)


# --- the options -----------------------------------------------------------------------------


def test_plaintext_adds_nothing() -> None:
    assert PLAINTEXT.kafka_python_kwargs() == {}
    assert PLAINTEXT.aiokafka_kwargs() == {}
    assert PLAINTEXT.faust_credentials() is None
    assert PLAINTEXT.ssl_context() is None
    assert KafkaSecurity.from_settings(Settings(kafka_security_protocol="PLAINTEXT")) == PLAINTEXT


def test_ssl_options_carry_a_verifying_context(certs: Certificates) -> None:
    security = KafkaSecurity(
        "SSL", cafile=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key
    )
    for kwargs in (security.kafka_python_kwargs(), security.aiokafka_kwargs()):
        assert set(kwargs) == {"security_protocol", "ssl_context"}
        assert kwargs["security_protocol"] == "SSL"
        context = kwargs["ssl_context"]
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    relaxed = KafkaSecurity("SSL", cafile=certs.ca, check_hostname=False).ssl_context()
    assert relaxed is not None and not relaxed.check_hostname
    assert relaxed.verify_mode == ssl.CERT_REQUIRED  # the chain is still checked


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("tls", [True, False])
def test_sasl_options(certs: Certificates, mechanism: str, tls: bool) -> None:
    security = sasl(mechanism, cafile=certs.ca) if tls else sasl(mechanism)
    for kwargs in (security.kafka_python_kwargs(), security.aiokafka_kwargs()):
        assert kwargs["security_protocol"] == ("SASL_SSL" if tls else "SASL_PLAINTEXT")
        assert kwargs["sasl_mechanism"] == mechanism
        assert kwargs["sasl_plain_username"] == USER
        assert kwargs["sasl_plain_password"] == PASSWORD
        assert isinstance(kwargs.get("ssl_context"), ssl.SSLContext) is tls


def test_faust_credentials_become_the_same_aiokafka_options(certs: Certificates) -> None:
    tls = KafkaSecurity("SSL", cafile=certs.ca)
    credentials = tls.faust_credentials()
    assert isinstance(credentials, faust.SSLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SSL"
    assert isinstance(auth["ssl_context"], ssl.SSLContext)

    for security, protocol in ((sasl("SCRAM-SHA-512", cafile=certs.ca), "SASL_SSL"),
                               (sasl("PLAIN"), "SASL_PLAINTEXT")):  # fmt: skip
        credentials = security.faust_credentials()
        assert isinstance(credentials, faust.SASLCredentials)
        assert PASSWORD not in repr(credentials)
        auth = credentials_to_aiokafka_auth(credentials)
        ours = security.aiokafka_kwargs()
        assert {k: v for k, v in auth.items() if k != "ssl_context"} == {
            k: v for k, v in ours.items() if k != "ssl_context"
        }
        assert auth["security_protocol"] == protocol
        assert (auth["ssl_context"] is None) is (protocol == "SASL_PLAINTEXT")


def test_from_settings_reads_every_setting(certs: Certificates) -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username=USER,
        kafka_sasl_password=PASSWORD,
        kafka_ssl_cafile=certs.ca,
        kafka_ssl_certfile=certs.client_cert,
        kafka_ssl_keyfile=certs.client_key,
        kafka_ssl_check_hostname=False,
    )
    security = KafkaSecurity.from_settings(settings)
    assert security == KafkaSecurity(
        "SASL_SSL",
        "SCRAM-SHA-256",
        USER,
        SecretStr(PASSWORD),
        certs.ca,
        certs.client_cert,
        certs.client_key,
        False,
    )
    for shown in (repr(settings), str(settings), repr(security), str(security)):
        assert PASSWORD not in shown


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"protocol": "SASL_SSL", "password": SecretStr(PASSWORD)}, "SASL_USERNAME"),
        ({"protocol": "SASL_PLAINTEXT", "username": USER}, "SASL_PASSWORD"),
        ({"protocol": "SSL", "certfile": Path("c.pem")}, "SSL_KEYFILE"),
        ({"protocol": "SSL", "keyfile": Path("k.pem")}, "SSL_CERTFILE"),
        ({"protocol": "PLAINTEXT", "cafile": Path("ca.pem")}, "SSL or SASL_SSL"),
        (
            {
                "protocol": "SASL_PLAINTEXT",
                "username": USER,
                "password": SecretStr(PASSWORD),
                "cafile": Path("ca.pem"),
            },
            "SSL or SASL_SSL",
        ),
        ({"protocol": "SSL", "username": USER, "password": SecretStr(PASSWORD)}, "SASL_SSL"),
    ],
)
def test_inconsistent_settings_are_refused_without_the_password(
    fields: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named) as refused:
        KafkaSecurity(**fields)
    assert PASSWORD not in str(refused.value)


def test_unreadable_tls_files_are_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(ConfigurationError, match=r"nowhere\.pem") as refused:
        sasl(cafile=missing).kafka_python_kwargs()
    assert PASSWORD not in str(refused.value)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ConfigurationError, match=r"garbage\.pem"):
        KafkaSecurity("SSL", cafile=garbage).ssl_context()


def test_the_embedded_broker_is_plaintext_only(monkeypatch: pytest.MonkeyPatch) -> None:
    secured = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username=USER,
        kafka_sasl_password=PASSWORD,
    )
    assert kafka_security_of(secured, embedded=False).protocol == "SASL_SSL"
    with pytest.raises(ConfigurationError, match="GRIDBRAIN_KAFKA_BOOTSTRAP") as refused:
        kafka_security_of(secured, embedded=True)
    assert PASSWORD not in str(refused.value)

    monkeypatch.setenv("GRIDBRAIN_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("gridbrain_kafka_sasl_password", PASSWORD)
    monkeypatch.setenv("GRIDBRAIN_KAFKA_SSL_CAFILE", "/ca.pem")
    env = embedded_kafka_env()
    assert env["GRIDBRAIN_KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert PASSWORD not in env.values() and "GRIDBRAIN_KAFKA_SSL_CAFILE" not in env


def test_the_password_is_masked_in_the_kafka_libraries_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sasl("PLAIN", "Masked-Only-pw").kafka_python_kwargs()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("kafka.protocol.parser").debug(
            "Sending %s", {"auth_bytes": b"u\x00u\x00Masked-Only-pw"}
        )
        logging.getLogger("aiokafka.conn").debug("config %s", {"password": "Masked-Only-pw"})
    assert "Masked-Only-pw" not in caplog.text
    assert caplog.text.count("**********") == 2


def test_the_worker_app_hands_the_credentials_to_faust(certs: Certificates) -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=USER,
        kafka_sasl_password=PASSWORD,
        kafka_ssl_cafile=certs.ca,
    )
    app = build_app(settings, "127.0.0.1:1", "postgresql://nobody@/nowhere", ("dispatch",))
    assert isinstance(app.conf.broker_credentials, faust.SASLCredentials)
    auth = app.producer._settings_auth()  # what Faust's aiokafka producer is created with
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_password"] == PASSWORD
