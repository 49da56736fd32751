"""How every Kafka client connects: TLS and SASL options built from settings, in one place.

:class:`KafkaSecurity` turns the ``GRIDBRAIN_KAFKA_SECURITY_PROTOCOL``, ``..._SASL_*`` and
``..._SSL_*`` settings into the keyword arguments of kafka-python clients (producer, admin,
lag), of aiokafka clients (the stage consumers, the throughput probe) and into Faust's
``broker_credentials`` (its producer). PLAINTEXT, the default, adds nothing: the embedded
broker speaks plaintext only.

The SASL password stays a :class:`~pydantic.SecretStr` (masked in ``repr``, ``str`` and
logs) until the client options are built; no error message names it. The clients print it
in their DEBUG logs (kafka-python's admin client its whole configuration; both libraries
PLAIN's authentication bytes), so building SASL options also masks it in the records of the
Kafka libraries' loggers.
"""

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from gridbrain.errors import ConfigurationError

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

    from gridbrain.settings import Settings

__all__ = ["PLAINTEXT", "KafkaSecurity", "Mechanism", "Protocol"]

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

#: Loggers whose DEBUG records are known to carry the SASL password.
_LEAKY_LOGGERS = (
    "kafka.admin.client",
    "kafka.net.connection",
    "kafka.protocol.parser",
    "aiokafka.conn",
)
_MASK = "**********"


class _MaskSecret(logging.Filter):
    """Replaces a secret (as text or as ``bytes`` repr) in the records of a logger."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.forms = {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(form in message for form in self.forms):
            for form in sorted(self.forms, key=len, reverse=True):
                message = message.replace(form, _MASK)
            record.msg, record.args = message, None
        return True


_masked: set[str] = set()


def _mask_in_client_logs(secret: str) -> None:
    """Mask ``secret`` in the records of the Kafka libraries' loggers (once per secret)."""
    if secret in _masked:
        return
    _masked.add(secret)
    names = {
        *_LEAKY_LOGGERS,
        *(n for n in logging.root.manager.loggerDict if n.startswith(("kafka", "aiokafka"))),
    }
    mask = _MaskSecret(secret)
    for name in names:
        logging.getLogger(name).addFilter(mask)


@dataclass(frozen=True)
class KafkaSecurity:
    """The security options every Kafka client of a process is created with.

    Attributes:
        protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
        mechanism: the SASL mechanism (SASL_* protocols only).
        username: the SASL user (SASL_* only).
        password: the SASL password (SASL_* only), never shown.
        cafile: CA bundle (PEM) the broker's certificate is checked against; unset = the
            system's CAs (SSL and SASL_SSL).
        certfile: client certificate (PEM) for mutual TLS.
        keyfile: private key (PEM) of ``certfile``.
        check_hostname: whether the broker's certificate must name the host connected to.

    Raises:
        ConfigurationError: a SASL protocol without user name or password, a certificate
            without its key (or a key without a certificate), or a setting the protocol
            would ignore (e.g. a CA file with PLAINTEXT: the connection would silently not
            be encrypted).
    """

    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "PLAIN"
    username: str | None = None
    password: SecretStr | None = None
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    check_hostname: bool = True

    def __post_init__(self) -> None:
        name = f"GRIDBRAIN_KAFKA_SECURITY_PROTOCOL={self.protocol}"
        if self.uses_sasl and not (self.username and self.password):
            raise ConfigurationError(
                f"{name} needs GRIDBRAIN_KAFKA_SASL_USERNAME and GRIDBRAIN_KAFKA_SASL_PASSWORD"
            )
        if not self.uses_sasl and (self.username or self.password):
            raise ConfigurationError(
                f"GRIDBRAIN_KAFKA_SASL_USERNAME/PASSWORD are set but {name} does not use "
                "them: choose SASL_SSL (or SASL_PLAINTEXT)"
            )
        if (self.certfile is None) != (self.keyfile is None):
            raise ConfigurationError(
                "mutual TLS needs both GRIDBRAIN_KAFKA_SSL_CERTFILE and GRIDBRAIN_KAFKA_SSL_KEYFILE"
            )
        if not self.uses_ssl and (self.cafile or self.certfile):
            raise ConfigurationError(
                f"GRIDBRAIN_KAFKA_SSL_* files are set but {name} is not encrypted: "
                "choose SSL or SASL_SSL"
            )

    @classmethod
    def from_settings(cls, settings: "Settings") -> "KafkaSecurity":
        """The options named by ``GRIDBRAIN_KAFKA_SECURITY_PROTOCOL`` and its companions."""
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
            check_hostname=settings.kafka_ssl_check_hostname,
        )

    @property
    def uses_ssl(self) -> bool:
        """Whether connections are encrypted (SSL, SASL_SSL)."""
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        """Whether clients authenticate with SASL (SASL_PLAINTEXT, SASL_SSL)."""
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A new client TLS context (None when the protocol is not encrypted).

        Raises:
            ConfigurationError: a CA, certificate or key file cannot be read or parsed.
        """
        if not self.uses_ssl:
            return None
        try:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=str(self.cafile) if self.cafile else None
            )
            context.check_hostname = self.check_hostname
            if self.certfile is not None:
                context.load_cert_chain(self.certfile, self.keyfile)
        except OSError as exc:  # ssl.SSLError is an OSError
            files = ", ".join(str(p) for p in (self.cafile, self.certfile, self.keyfile) if p)
            raise ConfigurationError(f"Kafka TLS files ({files}) unusable: {exc}") from exc
        return context

    def kafka_python_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``KafkaProducer``/``KafkaConsumer``/``KafkaAdminClient``."""
        return self._client_kwargs()

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaConsumer``/``AIOKafkaProducer``."""
        return self._client_kwargs()

    def _client_kwargs(self) -> dict[str, Any]:
        # kafka-python and aiokafka name these options alike (SCRAM too reads
        # ``sasl_plain_*``).
        if self.protocol == "PLAINTEXT":
            return {}
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_ssl:
            kwargs["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            assert self.password is not None  # checked when built
            _mask_in_client_logs(self.password.get_secret_value())
            kwargs |= {
                "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password.get_secret_value(),
            }
        return kwargs

    def faust_credentials(self) -> "CredentialsT | None":
        """Faust's ``broker_credentials`` (None for PLAINTEXT).

        Faust hands them to the aiokafka clients it creates (its producer here).
        """
        import faust  # imported here: the CLI starts faster

        if self.protocol == "PLAINTEXT":
            return None
        context = self.ssl_context()
        if not self.uses_sasl:
            return faust.SSLCredentials(context)
        assert self.password is not None
        _mask_in_client_logs(self.password.get_secret_value())
        # With a context Faust's SASL credentials mean SASL_SSL, without SASL_PLAINTEXT.
        return faust.SASLCredentials(
            username=self.username,
            password=self.password.get_secret_value(),
            ssl_context=context,
            mechanism=self.mechanism,
        )


#: No TLS, no SASL: what the embedded broker speaks.
PLAINTEXT = KafkaSecurity()
