"""The API's database access: read-only transactions, a statement timeout, its own role.

Reads run in read-only transactions as the role ``gridbrain_api`` (migration 0010: it
may select from every table and insert or update only silences). Writes (silences) run
as the same role in ordinary transactions. Given a login of its own
(``GRIDBRAIN_API_DATABASE_URL``) the API uses it as it is. Otherwise it logs in as
``gridbrain_api`` where the server lets it in without a password (the embedded one),
else it assumes the role with SET ROLE after logging in as the platform's user; where
the role is missing, reads stay read-only transactions and the API says so at start.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gridbrain.storage.db import make_engine, make_sessionmaker, sqlalchemy_url

__all__ = ["ROLE", "ApiDatabase"]

_log = logging.getLogger(__name__)

#: The role the API's queries run as (created by migration 0010).
ROLE = "gridbrain_api"


def _configure(engine: Engine, timeout_ms: int, role: bool, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("SET statement_timeout = %s", (timeout_ms,))
        if role:
            cursor.execute(f"SET ROLE {ROLE}")
        if read_only:
            cursor.execute("SET default_transaction_read_only = on")
        cursor.close()
        connection.commit()


def _login_as_role(url: str) -> str | None:
    """``url`` logging in as :data:`ROLE` with no password, if the server lets it in."""
    as_role = make_url(sqlalchemy_url(url)).set(username=ROLE, password=None)
    text_url = as_role.render_as_string(hide_password=False)
    engine = make_engine(text_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return text_url
    except OperationalError:  # no such login, or a password is needed
        return None
    finally:
        engine.dispose()


def _current_user(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(text("SELECT current_user")).scalar()


@dataclass
class ApiDatabase:
    """Sessions for the API's reads and for its one kind of write.

    Attributes:
        reads: sessions in read-only transactions.
        writes: sessions that may write (as the role: silences only).
        role: whether the queries run as :data:`ROLE`.
    """

    reads: sessionmaker[Session]
    writes: sessionmaker[Session]
    role: bool
    engines: tuple[Engine, Engine]

    @classmethod
    def connect(cls, url: str, timeout_ms: int, own_login: bool) -> "ApiDatabase":
        """Engines on ``url``; ``own_login``: the URL is the API's own (no SET ROLE)."""
        if not own_login:
            as_role = _login_as_role(url)
            if as_role is not None:
                url, own_login = as_role, True
        probe = make_engine(url)
        try:
            with probe.connect() as connection:
                role = not own_login and bool(
                    connection.execute(
                        text(
                            "SELECT pg_has_role(current_user, oid, 'MEMBER') "
                            "FROM pg_roles WHERE rolname = :r"
                        ),
                        {"r": ROLE},
                    ).scalar()
                )
        finally:
            probe.dispose()
        if not own_login and not role:
            _log.warning(
                "role %s is missing: the API reads in read-only transactions as the "
                "platform's user (see GRIDBRAIN_API_DATABASE_URL)",
                ROLE,
            )
        read_engine, write_engine = make_engine(url), make_engine(url)
        role = role or (own_login and _current_user(read_engine) == ROLE)
        _configure(read_engine, timeout_ms, role, read_only=True)
        _configure(write_engine, timeout_ms, role, read_only=False)
        return cls(
            make_sessionmaker(read_engine),
            make_sessionmaker(write_engine),
            role,
            (read_engine, write_engine),
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads (its transaction ends with it)."""
        with self.reads() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends without error."""
        with self.writes() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        for engine in self.engines:
            engine.dispose()
