"""Kafka TLS and SASL: real round trips through TLS/SASL.

The embedded broker speaks plaintext only; these tests put
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

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError as AIOKafkaError
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from gridbrain.cli.embedded import EmbeddedBroker, free_port
from gridbrain.settings import Settings
from gridbrain.streams.app import build_app
from gridbrain.streams.consumer import GroupConsumer, Record
from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity
from gridbrain.streams.lag import end_offsets
from gridbrain.streams.producer import produce
from gridbrain.streams.throughput import raw_consumer_rate
from gridbrain.streams.topics import FORECASTS, INPUT_TOPICS, create_topics
from tests.certificates import Certificates, server_context
from tests.kafka_proxy import KafkaTLSProxy
from tests.streams.test_kafka_security import MECHANISMS, PASSWORD, USER, sasl


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
