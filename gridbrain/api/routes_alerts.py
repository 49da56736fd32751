"""Alerts, an incident's history, and silences (the one thing the API writes)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from gridbrain.api.params import PRINTABLE, Fmt, Limit, Offset, OptSite, Tz
from gridbrain.api.responses import aware, respond
from gridbrain.api.state import Reader, Writer
from gridbrain.processors.alerting.rules import parse_duration_ms
from gridbrain.storage.alerts import add_silence, alert_history, expire_silence, list_silences
from gridbrain.storage.queries import list_alerts

__all__ = ["router"]

router = APIRouter(tags=["alerts"])

State = Literal["pending", "firing", "inactive", "resolved"]
_ID = Path(ge=1, le=2**63 - 1)


@router.get("/alerts", summary="Alert incidents, newest first")
def alerts(
    request: Request,
    reader: Reader,
    state: State | None = None,
    site: OptSite = None,
    rule: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    fmt: Fmt = "json",
    tz: Tz = None,
) -> Response:
    """Incidents (``state=firing`` for the open ones that notified)."""
    with reader.db.read() as session:
        rows = list_alerts(session, site, state, limit, rule, offset)
    return respond(request, rows, fmt, tz, limit, offset)


@router.get("/alerts/{alert_id}/history", summary="An incident's state changes")
def history(
    request: Request,
    reader: Reader,
    alert_id: Annotated[int, _ID],
    fmt: Fmt = "json",
    tz: Tz = None,
) -> Response:
    """Every state change of the incident, oldest first, with its reason."""
    with reader.db.read() as session:
        rows = alert_history(session, alert_id)
    if not rows:
        raise HTTPException(404, "no such incident")
    return respond(request, rows, fmt, tz)


@router.get("/silences", summary="Silences")
def silences(
    request: Request,
    reader: Reader,
    include_expired: Annotated[bool, Query(alias="all")] = False,
    fmt: Fmt = "json",
    tz: Tz = None,
) -> Response:
    """Silences not yet ended (``all=true``: expired ones too), newest first."""
    with reader.db.read() as session:
        rows = list_silences(session, datetime.now(UTC), include_expired)
    return respond(request, rows, fmt, tz)


class NewSilence(BaseModel):
    """A silence to create: matchers like ``site_id=pv-north`` or ``rule=~pm.*``."""

    matchers: list[Annotated[str, Field(min_length=1, max_length=256, pattern=PRINTABLE)]] = Field(
        min_length=1, max_length=20
    )
    duration: str = Field(
        default="2h", max_length=16, pattern=PRINTABLE, description="e.g. 30m, 2h, 1d."
    )
    starts_at: datetime | None = Field(default=None, description="Default: now.")
    comment: str = Field(default="", max_length=1000, pattern=PRINTABLE)
    created_by: str = Field(default="api", min_length=1, max_length=128, pattern=PRINTABLE)


@router.post("/silences", status_code=201, summary="Create a silence (write token)")
def create_silence(writer: Writer, silence: NewSilence) -> JSONResponse:
    """Mute notifications of incidents matching every matcher for ``duration``."""
    start = aware(silence.starts_at, "starts_at") if silence.starts_at else datetime.now(UTC)
    try:
        end = start + timedelta(milliseconds=parse_duration_ms(silence.duration))
        with writer.db.write() as session:
            silence_id = add_silence(
                session, silence.matchers, start, end, silence.created_by, silence.comment
            )
    except (ValueError, OverflowError) as exc:
        raise HTTPException(422, str(exc)) from exc
    body = {"id": silence_id, "starts_at": start.isoformat(), "ends_at": end.isoformat()}
    return JSONResponse(body, 201, {"Location": f"/silences/{silence_id}"})


@router.delete("/silences/{silence_id}", summary="Expire a silence now (write token)")
def expire(writer: Writer, silence_id: Annotated[int, _ID]) -> dict[str, object]:
    """End a running or pending silence now."""
    with writer.db.write() as session:
        if not expire_silence(session, silence_id, datetime.now(UTC)):
            raise HTTPException(404, "no such silence still running")
    return {"id": silence_id, "expired": True}
