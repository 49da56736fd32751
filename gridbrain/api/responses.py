"""Answer formats (JSON or CSV), paging links and explicit time zones.

Times go out as ISO 8601 with their offset, in UTC unless the request names a zone
(``tz=Europe/Madrid``); times coming in must carry an offset (``2026-12-01T00:00:00Z``).
"""

import csv
import io
import math
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

__all__ = ["Format", "aware", "respond", "zone"]

Format = Literal["json", "csv"]
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def aware(value: datetime, name: str) -> datetime:
    """``value`` if it carries an offset, else a 422 that says how to write it."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise HTTPException(
            422, f"{name} needs a time zone offset, e.g. 2026-12-01T00:00:00Z or +01:00"
        )
    return value


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (default UTC), or a 422."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HTTPException(422, "tz must be an IANA time zone, e.g. Europe/Madrid") from exc


def _plain(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(tz).isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with '."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def respond(
    request: Request,
    rows: list[dict[str, Any]],
    fmt: Format = "json",
    tz: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Response:
    """``rows`` as JSON (a list) or CSV; a full page links to the next one (``Link``)."""
    where = zone(tz)
    plain = [{k: _plain(v, where) for k, v in row.items()} for row in rows]
    headers = {}
    if limit is not None and len(rows) == limit:
        query = {**request.query_params, "offset": str(offset + limit)}
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    if fmt == "json":
        return JSONResponse(plain, headers=headers)
    out = io.StringIO()
    if plain:
        writer = csv.DictWriter(out, fieldnames=list(plain[0]))
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in plain)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
