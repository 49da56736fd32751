"""Sites, readings and forecasts."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import text

from gridbrain.api.params import Fmt, Limit, Offset, OptQuantity, OptSite, Quantity, Site, Tz
from gridbrain.api.responses import Format, aware, respond
from gridbrain.api.state import ApiState, Reader
from gridbrain.storage.forecast_queries import (
    forecast_accuracy,
    forecast_as_of,
    latest_forecasts,
)
from gridbrain.storage.queries import readings_between

__all__ = ["router"]

router = APIRouter(tags=["data"])


def _listing(request: Request, state: ApiState, sql: str, fmt: Format, tz: str | None) -> Response:
    with state.db.read() as session:
        rows = [dict(r) for r in session.execute(text(sql)).mappings()]
    return respond(request, rows, fmt, tz)


@router.get("/sites", summary="Registered sites")
def sites(request: Request, state: Reader, fmt: Fmt = "json", tz: Tz = None) -> Response:
    """Every registered site: kind, position, capacity, time zone, holidays, weather station."""
    sql = (
        "SELECT site_id, name, kind, latitude, longitude, capacity_kw, timezone, holidays, "
        "weather_station, created_at FROM sites ORDER BY site_id"
    )
    return _listing(request, state, sql, fmt, tz)


@router.get("/series", summary="Series with forecasts")
def series(request: Request, state: Reader, fmt: Fmt = "json", tz: Tz = None) -> Response:
    """Every (site, quantity) forecast so far, with the time of its newest forecast."""
    sql = (
        "SELECT site_id, quantity, issued_at AS newest_forecast FROM forecast_latest "
        "ORDER BY site_id, quantity"
    )
    return _listing(request, state, sql, fmt, tz)


@router.get("/readings", summary="Clean readings of a series")
def readings(
    request: Request,
    state: Reader,
    site: Site,
    quantity: Quantity,
    start: datetime,
    end: datetime,
    limit: Limit = 1000,
    offset: Offset = 0,
    fmt: Fmt = "json",
    tz: Tz = None,
) -> Response:
    """The clean steps in [start, end), oldest first.

    ``value`` is null when every reading of the step was flagged; ``quality`` is ok,
    cleaned, flagged or interpolated.
    """
    begin, finish = aware(start, "start"), aware(end, "end")
    with state.db.read() as session:
        rows = readings_between(session, site, quantity, begin, finish, limit, offset)
    return respond(request, rows, fmt, tz, limit, offset)


@router.get("/forecasts/latest", summary="The newest forecast of series")
def forecasts_latest(
    request: Request,
    state: Reader,
    site: OptSite = None,
    quantity: OptQuantity = None,
    horizons: Annotated[int, Query(ge=0, le=10_000, description="Targets (0: all).")] = 0,
    limit: Limit = 1000,
    offset: Offset = 0,
    fmt: Fmt = "json",
    tz: Tz = None,
) -> Response:
    """One row per target of the newest issue (each model): target_ts, p10, p50, p90."""
    with state.db.read() as session:
        rows = latest_forecasts(session, site, quantity, horizons, limit, offset)
    return respond(request, rows, fmt, tz, limit, offset)


@router.get("/forecasts/as-of", summary="A forecast as it was issued at a time")
def forecasts_as_of(
    request: Request,
    state: Reader,
    site: Site,
    quantity: Quantity,
    at: datetime,
    fmt: Fmt = "json",
    tz: Tz = None,
) -> Response:
    """The newest issue of the series no later than ``at``, one row per target."""
    with state.db.read() as session:
        rows = forecast_as_of(session, site, quantity, aware(at, "at"))
    return respond(request, rows, fmt, tz)


@router.get("/forecasts/accuracy", summary="Forecast accuracy per horizon")
def accuracy(
    request: Request,
    state: Reader,
    site: Site,
    quantity: Quantity,
    start: datetime,
    end: datetime,
    fmt: Fmt = "json",
) -> Response:
    """MAE, pinball loss and p10-p90 coverage per model and horizon.

    Of the issues made in [start, end), against the clean readings (computed in SQL).
    """
    begin, finish = aware(start, "start"), aware(end, "end")
    with state.db.read() as session:
        rows = forecast_accuracy(session, site, quantity, begin, finish)
    return respond(request, rows, fmt)
