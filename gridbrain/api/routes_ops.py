"""Health, readiness, the pipeline's state, quality counters and dispatch schedules."""

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from gridbrain.api.params import Fmt, OptSite, Site, Tz
from gridbrain.api.responses import respond
from gridbrain.api.state import Anyone, ApiState, Reader
from gridbrain.cli.status import pipeline_status
from gridbrain.storage.queries import quality_counts
from gridbrain.storage.schedules import latest_schedule

__all__ = ["router"]

router = APIRouter(tags=["operations"])


def _components(state: ApiState) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with state.db.read() as session:
            session.execute(text("SELECT 1"))
            workers = session.execute(
                text(
                    "SELECT count(*) FROM workers "
                    "WHERE updated_at > now() - make_interval(secs => :s)"
                ),
                {"s": state.report_window_s},
            ).scalar_one()
        database = "ok"
    except Exception:  # the reason may name hosts; it is logged, never answered
        database, workers = "unreachable", None
    broker = "ok" if state.broker_reachable() else "unreachable"
    return {
        "database": database,
        "broker": broker if state.bootstrap else "not configured",
        "workers": workers,
        "checked_in_ms": round((time.perf_counter() - started) * 1000, 1),
    }


@router.get("/health", summary="Liveness and the state of the services (no token needed)")
def health(state: Anyone) -> dict[str, Any]:
    """``status`` is ok when the database and the broker answer, else degraded."""
    parts = _components(state)
    healthy = parts["database"] == "ok" and parts["broker"] in ("ok", "not configured")
    return {"status": "ok" if healthy else "degraded", **parts}


@router.get("/ready", summary="Readiness: services up, workers reporting, lag")
def ready(state: Reader) -> JSONResponse:
    """200 when the database and broker answer and a worker reports; 503 otherwise."""
    parts = _components(state)
    lag = None
    if parts["database"] == "ok":
        with state.db.read() as session:
            rows, _ = pipeline_status(session, state.end_offsets(), state.report_window_s)
        lag = sum(r["lag"] for r in rows if isinstance(r["lag"], int))
    ok = parts["database"] == "ok" and parts["broker"] != "unreachable" and bool(parts["workers"])
    return JSONResponse({"ready": ok, **parts, "lag": lag}, 200 if ok else 503)


@router.get("/status", summary="Stage counters, lag and workers (as `gridbrain status`)")
def status(state: Reader) -> dict[str, Any]:
    """Per stage and topic: counters, whether they balance, lag; and the live workers."""
    with state.db.read() as session:
        rows, workers = pipeline_status(session, state.end_offsets(), state.report_window_s)
    plain = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in w.items()}
             for w in workers]  # fmt: skip
    return {"stages": rows, "workers": plain}


@router.get("/quality", summary="Quality counters per site")
def quality(
    request: Request,
    state: Reader,
    site: OptSite = None,
    fmt: Fmt = "json",
) -> Response:
    """What happened to every reading received per site: clean, flagged, dead-lettered."""
    with state.db.read() as session:
        rows = quality_counts(session, site)
    return respond(request, rows, fmt)


@router.get("/schedules/latest", summary="The newest dispatch plan of a site")
def schedule(
    request: Request,
    state: Reader,
    site: Site,
    fmt: Fmt = "json",
    tz: Tz = None,
) -> Response:
    """Battery, grid, SOC and prices per step, with the plan's status and solve time."""
    with state.db.read() as session:
        rows = latest_schedule(session, site)
    return respond(request, rows, fmt, tz)
