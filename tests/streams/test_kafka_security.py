"""Kafka TLS and SASL: the options every client gets, and real round trips through TLS/SASL.

The embedded broker speaks plaintext only; the integration tests put
:class:`tests.kafka_proxy.KafkaTLSProxy` (real TLS; SASL PLAIN/SCRAM answered by the proxy)
in front of a broker of their own that advertises the proxy's port.
"""

import asyncio
import logging
import socket
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError as AIOKafkaError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from pydantic import SecretStr

from gridbrain.cli.embedded import EmbeddedBroker, free_port
from gridbrain.cli.services import embedded_kafka_env, kafka_security_of
from gridbrain.errors import ConfigurationError
from gridbrain.settings import Settings
from gridbrain.streams.app import build_app
from gridbrain.streams.consumer import GroupConsumer, Record
from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity
from gridbrain.streams.lag import end_offsets
from gridbrain.streams.producer import produce
from gridbrain.streams.throughput import raw_consumer_rate
from gridbrain.streams.topics import FORECASTS, INPUT_TOPICS, create_topics
from tests.certificates import Certificates, make_certificates, server_context
from tests.kafka_proxy import KafkaTLSProxy

PASSWORD = "Kafka-S3cret-pw"
USER = "gridbrain"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


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


# --- real round trips ------------------------------------------------------------------------


@contextmanager
def _fronted_broker(
    tmp: Path, context: ssl.SSLContext | None, users: dict[str, str] | None
) -> Iterator[tuple[str, KafkaTLSProxy]]:
    proxy_port, broker_port = free_port(), free_port()
    with (
        EmbeddedBroker(tmp, broker_port, advertised_port=proxy_port),
        KafkaTLSProxy(context, broker_port, proxy_port, users) as proxy,
    ):
        yield f"127.0.0.1:{proxy_port}", proxy


@pytest.fixture(scope="module")
def mtls_kafka(
    tmp_path_factory: pytest.TempPathFactory, certs: Certificates
) -> Iterator[tuple[str, KafkaTLSProxy]]:
    """A broker behind TLS that requires a client certificate of the test CA."""
    with _fronted_broker(tmp_path_factory.mktemp("mtls"), server_context(certs, True), None) as up:
        yield up


@pytest.fixture(scope="module")
def sasl_kafka(
    tmp_path_factory: pytest.TempPathFactory, certs: Certificates
) -> Iterator[tuple[str, KafkaTLSProxy]]:
    """A broker behind TLS and SASL (user ``USER``, password ``PASSWORD``)."""
    context = server_context(certs)
    with _fronted_broker(tmp_path_factory.mktemp("sasl"), context, {USER: PASSWORD}) as up:
        yield up


def _messages(n: int, topic: str) -> list[tuple[str, bytes | None, bytes]]:
    return [(topic, f"site-{i % 7}".encode(), b'{"n": %d}' % i) for i in range(n)]


def _consume_in_a_group(bootstrap: str, topic: str, expected: int, security: KafkaSecurity) -> int:
    async def run() -> int:
        async def assigned(_: set[tuple[str, int]]) -> None:
            pass

        consumer = GroupConsumer(
            bootstrap, f"tls-{uuid.uuid4().hex[:8]}", [topic], assigned, 6.0, security=security
        )
        await consumer.start()
        got: list[Record] = []
        try:
            async with asyncio.timeout(60):
                while len(got) < expected:
                    got += await consumer.take(1000, 0.2)
            await consumer.commit(got)
        finally:
            await consumer.stop()
        return len(got)

    return asyncio.run(run())


def _faust_send(settings: Settings, bootstrap: str, security: KafkaSecurity) -> int:
    """Send one record with the worker's Faust producer; its offset."""
    app = build_app(
        settings, bootstrap, "postgresql://nobody@/nowhere", ("dispatch",), security=security
    )

    async def run() -> int:
        await app.producer.start()
        try:
            sent = await app.producer.send(FORECASTS, b"k", b"v", None, None, None)
            return (await sent).offset
        finally:
            await app.producer.stop()

    return asyncio.run(run())


@pytest.mark.integration
def test_every_client_works_through_mutual_tls(
    mtls_kafka: tuple[str, KafkaTLSProxy], certs: Certificates
) -> None:
    bootstrap, proxy = mtls_kafka
    security = KafkaSecurity(
        "SSL", cafile=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key
    )
    topic = INPUT_TOPICS[0]
    assert set(create_topics(bootstrap, 2, security=security)) >= set(INPUT_TOPICS)
    stats = produce(bootstrap, _messages(300, topic), security=security)
    assert stats.messages == 300
    assert sum(end_offsets(bootstrap, [topic], security).values()) == 300
    assert raw_consumer_rate(bootstrap, topic, idle_s=1.0, security=security)[0] == 300
    assert _consume_in_a_group(bootstrap, topic, 300, security) == 300
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=certs.ca,
        kafka_ssl_certfile=certs.client_cert,
        kafka_ssl_keyfile=certs.client_key,
    )
    assert _faust_send(settings, bootstrap, security) == 0
    assert proxy.connections >= 6  # at least one per client, all of them through TLS


def _refused(bootstrap: str, security: KafkaSecurity) -> None:
    """Both libraries fail to connect with ``security``."""
    with pytest.raises(KafkaError):
        KafkaAdminClient(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=1500,
            request_timeout_ms=1500,
            **security.kafka_python_kwargs(),
        )

    async def start() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, request_timeout_ms=1500, **security.aiokafka_kwargs()
        )
        try:
            await consumer.start()
        finally:
            await consumer.stop()

    with pytest.raises(AIOKafkaError):
        asyncio.run(start())


@pytest.mark.integration
def test_plaintext_and_unverified_clients_are_refused(
    mtls_kafka: tuple[str, KafkaTLSProxy], certs: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap, _ = mtls_kafka
    _refused(bootstrap, PLAINTEXT)
    _refused(bootstrap, KafkaSecurity("SSL", cafile=certs.ca))  # no client certificate
    client = {"certfile": certs.client_cert, "keyfile": certs.client_key}
    wrong_ca = KafkaSecurity("SSL", cafile=certs.other_ca, **client)
    with caplog.at_level(logging.WARNING, logger="kafka"):
        _refused(bootstrap, wrong_ca)
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text

    host, port = bootstrap.split(":")
    context = wrong_ca.ssl_context()
    assert context is not None
    with (
        socket.create_connection((host, int(port)), 5) as raw,
        pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"),
    ):
        context.wrap_socket(raw, server_hostname=host)

    # The certificate names 127.0.0.1 only: "localhost" is refused unless the check is off.
    named = KafkaSecurity("SSL", cafile=certs.ca, **client)
    unchecked = KafkaSecurity("SSL", cafile=certs.ca, check_hostname=False, **client)
    for security, accepted in ((named, False), (unchecked, True)):
        context = security.ssl_context()
        assert context is not None
        with socket.create_connection(("localhost", int(port)), 5) as raw:
            if accepted:
                context.wrap_socket(raw, server_hostname="localhost").close()
            else:
                with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
                    context.wrap_socket(raw, server_hostname="localhost")


@pytest.mark.integration
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_ssl_with_both_libraries(
    sasl_kafka: tuple[str, KafkaTLSProxy],
    certs: Certificates,
    mechanism: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bootstrap, proxy = sasl_kafka
    security = sasl(mechanism, cafile=certs.ca)
    topic = f"sasl-{mechanism.lower()}"
    before = len(proxy.authenticated)
    with caplog.at_level(logging.DEBUG):  # the libraries' DEBUG logs print the password
        create_topics(bootstrap, 2, security=security)  # kafka-python admin
        produce(bootstrap, _messages(50, topic), security=security)  # kafka-python producer
        assert sum(end_offsets(bootstrap, [topic], security).values()) == 50
        assert raw_consumer_rate(bootstrap, topic, idle_s=1.0, security=security)[0] == 50
    assert PASSWORD not in caplog.text
    if mechanism == "PLAIN":  # its authentication bytes hold the password: seen, and masked
        assert "**********" in caplog.text
    assert {m for _, m in proxy.authenticated[before:]} == {mechanism}
    assert len(proxy.authenticated) - before >= 4  # each client authenticated its connections


@pytest.mark.integration
def test_the_worker_clients_authenticate(
    sasl_kafka: tuple[str, KafkaTLSProxy], certs: Certificates
) -> None:
    bootstrap, proxy = sasl_kafka
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username=USER,
        kafka_sasl_password=PASSWORD,
        kafka_ssl_cafile=certs.ca,
    )
    security = KafkaSecurity.from_settings(settings)
    topic = "sasl-group"
    produce(bootstrap, _messages(40, topic), security=security)
    assert _consume_in_a_group(bootstrap, topic, 40, security) == 40  # the stages' consumer
    before = len(proxy.authenticated)
    create_topics(bootstrap, 2, security=security)
    assert _faust_send(settings, bootstrap, security) >= 0  # Faust's producer
    assert ("gridbrain", "SCRAM-SHA-256") in proxy.authenticated[before:]


@pytest.mark.integration
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_a_wrong_password_is_refused(
    sasl_kafka: tuple[str, KafkaTLSProxy],
    certs: Certificates,
    mechanism: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bootstrap, proxy = sasl_kafka
    refused = proxy.refused
    wrong = "Not-The-pw-42"
    with caplog.at_level(logging.DEBUG):
        _refused(bootstrap, sasl(mechanism, wrong, cafile=certs.ca))
    assert proxy.refused >= refused + 2  # kafka-python's and aiokafka's attempts
    assert "SaslAuthenticationFailedError" in caplog.text
    assert wrong not in caplog.text


@pytest.mark.integration
def test_sasl_plaintext(tmp_path: Path) -> None:
    with _fronted_broker(tmp_path, None, {USER: PASSWORD}) as (bootstrap, proxy):
        security = sasl("SCRAM-SHA-256")
        produce(bootstrap, _messages(10, "sasl-plaintext"), security=security)
        assert (
            raw_consumer_rate(bootstrap, "sasl-plaintext", idle_s=1.0, security=security)[0] == 10
        )
        assert proxy.authenticated
