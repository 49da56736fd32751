"""Batched statement execution on a session's connection (psycopg2 ``execute_values``)."""

from collections.abc import Sequence
from typing import Any

from psycopg2.extras import execute_values
from sqlalchemy.orm import Session

__all__ = ["execute_batch"]


def execute_batch(
    session: Session,
    sql: str,
    rows: Sequence[tuple[Any, ...]],
    page_size: int = 2000,
    template: str | None = None,
) -> None:
    """Run ``sql`` (with one ``VALUES %s``) for all ``rows`` inside the session's transaction.

    ``template`` is the SQL of one row, e.g. ``(%s, %s::int)`` (default: plain ``%s``s).
    """
    if not rows:
        return
    dbapi = session.connection().connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a checked-out connection always has one
        raise RuntimeError("no DBAPI connection")
    cursor = dbapi.cursor()
    try:
        execute_values(cursor, sql, rows, template=template, page_size=page_size)
    finally:
        cursor.close()
