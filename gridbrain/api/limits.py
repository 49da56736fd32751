"""Request limits as ASGI middleware: body size, and a request rate per client."""

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["Limits"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    pass


class Limits:
    """Refuse bodies over ``max_body_bytes`` (413) and clients over their rate (429).

    The rate is a token bucket per client address: ``rate_per_s`` requests a second,
    bursts of ``burst``. Buckets of clients idle for a minute are dropped.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, rate_per_s: float, burst: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._swept = time.monotonic()

    def _allow(self, client: str) -> float:
        """0 when ``client`` may go on, else the seconds until it may."""
        now = time.monotonic()
        if now - self._swept > 60:
            self._buckets = {c: b for c, b in self._buckets.items() if now - b[1] < 60}
            self._swept = now
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate_per_s
        self._buckets[client] = (tokens - 1, now)
        return 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the limits to HTTP requests."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        wait = self._allow(client)
        if wait:
            headers = [(b"retry-after", str(max(1, round(wait))).encode())]
            await _reply(send, 429, "too many requests", headers)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _reply(send, 413, f"request body over {self.max_body_bytes} bytes")
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                raise _TooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except _TooLarge:
            if not started:
                await _reply(send, 413, f"request body over {self.max_body_bytes} bytes")


async def _reply(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})
