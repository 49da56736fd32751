"""Bearer tokens: who may read and who may write (silences).

With no token configured, the API is open but serves 127.0.0.1 only (see
:mod:`api.server`). With tokens, every request but ``/health`` and the page's static
files needs one: the read token reads, the write token reads and writes.
"""

import hmac
from dataclasses import dataclass
from enum import IntEnum

from fastapi import HTTPException, Request
from pydantic import SecretStr

__all__ = ["Access", "Level"]


class Level(IntEnum):
    """What a request may do."""

    NONE = 0
    READ = 1
    WRITE = 2


@dataclass(frozen=True)
class Access:
    """The configured tokens (either may be unset)."""

    read_token: SecretStr | None = None
    write_token: SecretStr | None = None

    @property
    def enabled(self) -> bool:
        """Whether any token is configured (else every request may read and write)."""
        return bool(self.read_token or self.write_token)

    def level_of(self, authorization: str | None) -> Level:
        """The level an ``Authorization`` header grants (compared in constant time)."""
        if not self.enabled:
            return Level.WRITE
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return Level.NONE
        given = token.strip().encode("utf-8", "surrogateescape")
        if self.write_token and hmac.compare_digest(
            given, self.write_token.get_secret_value().encode()
        ):
            return Level.WRITE
        if self.read_token and hmac.compare_digest(
            given, self.read_token.get_secret_value().encode()
        ):
            return Level.READ
        return Level.NONE

    def require(self, request: Request, level: Level) -> None:
        """Refuse the request unless its token grants ``level`` (401 or 403)."""
        granted = self.level_of(request.headers.get("authorization"))
        if granted >= level:
            return
        if granted is Level.NONE:
            raise HTTPException(
                401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )
        raise HTTPException(403, "this token may only read")
