"""A real TLS front for the embedded PostgreSQL, whose build has no TLS and listens on a socket.

:class:`PostgresTLSProxy` listens on 127.0.0.1 and speaks PostgreSQL's TLS negotiation:
it answers a client's SSLRequest with ``S`` and does the TLS handshake itself (with
``context``; None answers ``N``, as a server without TLS does), refuses GSSAPI encryption,
then forwards the (decrypted) connection to the server's Unix socket. libpq's
``sslmode``/``sslrootcert``/``sslcert``/``sslkey`` are thus exercised for real.
"""

import asyncio
import contextlib
import ssl
import struct
import threading
from pathlib import Path

from tests.kafka_proxy import pipe

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


class PostgresTLSProxy:
    """TLS on 127.0.0.1:``port`` in front of the PostgreSQL Unix socket ``socket_path``.

    Attributes:
        handshakes: the subject of the client certificate of every TLS connection
            (an empty tuple when the client sent none).
        plain: how many connections went on without TLS.
    """

    def __init__(self, context: ssl.SSLContext | None, socket_path: Path, port: int) -> None:
        self.context = context
        self.socket_path = socket_path
        self.port = port
        self.handshakes: list[tuple[object, ...]] = []
        self.plain = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-tls-proxy", daemon=True)

    def __enter__(self) -> "PostgresTLSProxy":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0.1))
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(
            ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.CancelledError
        ):
            first = await self._negotiate(reader, writer)
            if first is None:
                return
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
            up_writer.write(first)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        writer.close()

    async def _negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes | None:
        """Answer encryption requests; return the startup packet's first bytes (None: drop)."""
        encrypted = False
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack(">ii", head)
            if length != 8 or code not in (_SSL_REQUEST, _GSSENC_REQUEST):
                self.plain += not encrypted
                return head  # the startup packet
            if code == _GSSENC_REQUEST or self.context is None:
                writer.write(b"N")
                await writer.drain()
                continue
            writer.write(b"S")
            await writer.drain()
            try:
                await writer.start_tls(self.context)
            except (ssl.SSLError, ConnectionError):
                self.handshakes.append(("refused",))
                return None
            encrypted = True
            peer = writer.get_extra_info("peercert") or {}
            self.handshakes.append(tuple(peer.get("subject", ())))
