"""A real TLS (and SASL) front for the embedded broker, which speaks plaintext only.

:class:`KafkaTLSProxy` listens with TLS on 127.0.0.1 and forwards the bytes of every
connection to a Tansu broker started with ``--advertised-listener-url`` pointing at the
proxy, so the connections clients open after the bootstrap go through TLS too.

With ``users`` the proxy also requires SASL before it forwards anything but ApiVersions:
it answers SaslHandshake (api key 17, v1) and SaslAuthenticate (api key 36, v0-v2) itself
for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, no channel binding), as a Kafka
broker would. Tansu's ApiVersions answer already lists keys 17 and 36, so it passes
unchanged.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import ssl
import struct
import threading

SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
API_VERSIONS = 18
UNSUPPORTED_SASL_MECHANISM = 33
SASL_AUTHENTICATION_FAILED = 58
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_SCRAM_ITERATIONS = 4096


# --- the Kafka wire format, as much as SASL needs ---------------------------------------


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _put_uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _body_at(frame: bytes, flexible: bool) -> int:
    """Where the body starts: after api key, version, correlation id, client id (and tags)."""
    (length,) = struct.unpack_from(">h", frame, 8)
    at = 10 + max(length, 0)
    if flexible:
        count, at = _uvarint(frame, at)
        for _ in range(count):
            _, at = _uvarint(frame, at)
            size, at = _uvarint(frame, at)
            at += size
    return at


def _handshake_response(correlation: int, error: int) -> bytes:
    names = b"".join(struct.pack(">h", len(m)) + m.encode() for m in MECHANISMS)
    return struct.pack(">ihi", correlation, error, len(MECHANISMS)) + names


def _authenticate_response(
    correlation: int, version: int, error: int, message: str | None, auth: bytes
) -> bytes:
    if version >= 2:  # flexible: header with tags, compact fields
        text = b"\x00" if message is None else _put_uvarint(len(message) + 1) + message.encode()
        return (
            struct.pack(">ib", correlation, 0)
            + struct.pack(">h", error)
            + text
            + _put_uvarint(len(auth) + 1)
            + auth
            + struct.pack(">q", 0)  # session lifetime: no re-authentication
            + b"\x00"
        )
    text = struct.pack(">h", -1) if message is None else struct.pack(">h", len(message))
    text += b"" if message is None else message.encode()
    out = struct.pack(">ih", correlation, error) + text + struct.pack(">i", len(auth)) + auth
    return out + (struct.pack(">q", 0) if version >= 1 else b"")


# --- SASL mechanisms ----------------------------------------------------------------------


class _Failed(Exception):
    """The client did not prove it knows a user's password."""


class _Plain:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.user = ""

    def step(self, message: bytes) -> tuple[bytes, bool]:
        _, self.user, password = message.decode().split("\0")
        expected = self.users.get(self.user)
        if expected is None or not hmac.compare_digest(expected, password):
            raise _Failed
        return b"", True


class _Scram:
    """The server side of SCRAM-SHA-256/512 (RFC 5802/7677), without channel binding."""

    def __init__(self, users: dict[str, str], mechanism: str) -> None:
        self.users = users
        self.digest = "sha256" if mechanism == "SCRAM-SHA-256" else "sha512"
        self.first: tuple[str, str, bytes] | None = None  # client-first-bare, server-first, salt
        self.user = ""

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, self.digest).digest()

    def step(self, message: bytes) -> tuple[bytes, bool]:
        text = message.decode()
        if self.first is None:
            bare = text.split(",", 2)[2]  # after the GS2 header "n,,"
            fields = dict(part.split("=", 1) for part in bare.split(","))
            self.user = fields["n"].replace("=2C", ",").replace("=3D", "=")
            if self.user not in self.users:
                raise _Failed
            salt = os.urandom(16)
            nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
            server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={_SCRAM_ITERATIONS}"
            self.first = (bare, server_first, salt)
            return server_first.encode(), False
        bare, server_first, salt = self.first
        without_proof, _, proof = text.rpartition(",p=")
        password = self.users[self.user].encode()
        salted = hashlib.pbkdf2_hmac(self.digest, password, salt, _SCRAM_ITERATIONS)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self.digest, client_key).digest()
        auth_message = f"{bare},{server_first},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        claimed = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
        nonce = server_first.split(",")[0]
        if nonce not in without_proof.split(",") or not hmac.compare_digest(
            hashlib.new(self.digest, claimed).digest(), stored_key
        ):
            raise _Failed
        server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return b"v=" + base64.b64encode(server_signature), True


# --- the proxy ------------------------------------------------------------------------------


async def _frame(reader: asyncio.StreamReader) -> bytes | None:
    try:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        return await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        return None


def _send(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(struct.pack(">i", len(payload)) + payload)


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy bytes from ``source`` to ``sink`` until either side closes."""
    try:
        while data := await source.read(1 << 16):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        sink.close()


class KafkaTLSProxy:
    """TLS on 127.0.0.1:``port`` in front of a plaintext broker (see the module doc).

    Args:
        context: the server TLS context (None: no TLS, for SASL_PLAINTEXT).
        upstream_port: the broker's port on 127.0.0.1.
        port: the port to listen on.
        users: user -> password; given, clients must authenticate with SASL.

    Attributes:
        connections: how many connections were forwarded (or refused by SASL).
        authenticated: (user, mechanism) of every successful SASL authentication.
        refused: how many SASL authentications failed.
    """

    def __init__(
        self,
        context: ssl.SSLContext | None,
        upstream_port: int,
        port: int,
        users: dict[str, str] | None = None,
    ) -> None:
        self.context = context
        self.upstream_port = upstream_port
        self.port = port
        self.users = users
        self.connections = 0
        self.authenticated: list[tuple[str, str]] = []
        self.refused = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kafka-tls-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        """Listen (in a thread with its own event loop)."""
        self._thread.start()
        if not self._ready.wait(10) or self._server is None:
            raise RuntimeError("the proxy did not start")

    def stop(self) -> None:
        """Stop listening and drop every connection."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> "KafkaTLSProxy":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.context)
            )
        finally:
            self._ready.set()
        self._loop.run_forever()
        self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0.1))
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        try:
            if self.users is None or await self._authenticate(reader, writer, up_reader, up_writer):
                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except asyncio.CancelledError:  # the proxy stops
            pass
        finally:
            writer.close()
            up_writer.close()

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer SASL until the client is authenticated (True) or must be dropped (False)."""
        assert self.users is not None
        mechanism: _Plain | _Scram | None = None
        name = ""
        while True:
            frame = await _frame(reader)
            if frame is None:
                return False
            api_key, version, correlation = struct.unpack_from(">hhi", frame)
            if api_key == API_VERSIONS:  # the broker answers
                _send(up_writer, frame)
                response = await _frame(up_reader)
                if response is None:
                    return False
                _send(writer, response)
            elif api_key == SASL_HANDSHAKE:
                (length,) = struct.unpack_from(">h", frame, _body_at(frame, False))
                start = _body_at(frame, False) + 2
                name = frame[start : start + length].decode()
                known = name in MECHANISMS
                error = 0 if known else UNSUPPORTED_SASL_MECHANISM
                _send(writer, _handshake_response(correlation, error))
                if not known:
                    return False
                mechanism = _Plain(self.users) if name == "PLAIN" else _Scram(self.users, name)
            elif api_key == SASL_AUTHENTICATE and mechanism is not None:
                flexible = version >= 2
                at = _body_at(frame, flexible)
                if flexible:
                    size, at = _uvarint(frame, at)
                    size -= 1
                else:
                    (size,) = struct.unpack_from(">i", frame, at)
                    at += 4
                try:
                    reply, done = mechanism.step(frame[at : at + size])
                except (_Failed, ValueError, KeyError, IndexError):
                    self.refused += 1
                    message = f"Authentication failed during {name}: invalid credentials"
                    _send(
                        writer,
                        _authenticate_response(
                            correlation, version, SASL_AUTHENTICATION_FAILED, message, b""
                        ),
                    )
                    await writer.drain()
                    # Like a broker (connection.failed.authentication.delay.ms), close only
                    # after a while: closing at once may lose the answer on its way.
                    with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError):
                        await asyncio.wait_for(reader.read(), 1.0)
                    return False
                _send(writer, _authenticate_response(correlation, version, 0, None, reply))
                if done:
                    self.authenticated.append((mechanism.user, name))
                    await writer.drain()
                    return True
            else:  # anything else before authentication: drop the connection, as Kafka does
                return False
            await writer.drain()
