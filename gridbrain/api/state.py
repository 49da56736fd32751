"""What every route needs: the database, the tokens, the broker; and the access checks."""

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from gridbrain.api.access import Access, Level
from gridbrain.api.database import ApiDatabase
from gridbrain.streams.kafka_security import PLAINTEXT, KafkaSecurity
from gridbrain.streams.lag import end_offsets
from gridbrain.streams.topics import INPUT_TOPICS

__all__ = ["Anyone", "ApiState", "Reader", "Writer"]

_ENDS_TTL_S = 10.0


@dataclass
class ApiState:
    """The API's services (one per app).

    Attributes:
        db: the API's database sessions.
        access: the configured tokens.
        bootstrap: the Kafka bootstrap servers (None: no broker to check).
        report_window_s: workers that reported within this long count as alive.
        security: how to reach the broker (TLS/SASL).
    """

    db: ApiDatabase
    access: Access
    bootstrap: str | None
    report_window_s: float = 60.0
    security: KafkaSecurity = PLAINTEXT
    _ends: tuple[float, dict[tuple[str, int], int]] = (0.0, {})
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def broker_reachable(self) -> bool:
        """Whether a bootstrap server accepts a TCP connection (within a second)."""
        for server in (self.bootstrap or "").split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1.0):
                    return True
            except (OSError, ValueError):
                continue
        return False

    def end_offsets(self) -> dict[tuple[str, int], int]:
        """The input topics' end offsets, read at most every 10 s (empty: no broker)."""
        with self._lock:
            at, ends = self._ends
            if time.monotonic() - at > _ENDS_TTL_S and self.bootstrap:
                ends = end_offsets(self.bootstrap, list(INPUT_TOPICS), self.security)
                self._ends = (time.monotonic(), ends)
            return ends


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def _reader(request: Request) -> ApiState:
    state = _state(request)
    state.access.require(request, Level.READ)
    return state


def _writer(request: Request) -> ApiState:
    state = _state(request)
    state.access.require(request, Level.WRITE)
    return state


#: A route parameter that requires read access.
Reader = Annotated[ApiState, Depends(_reader)]
#: A route parameter that requires write access.
Writer = Annotated[ApiState, Depends(_writer)]
#: A route parameter with no access check (``/health``).
Anyone = Annotated[ApiState, Depends(_state)]
