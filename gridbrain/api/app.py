"""The FastAPI application: routes, limits, error answers and the live page."""

import logging
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, OperationalError

from gridbrain.api import routes_alerts, routes_ask, routes_data, routes_ops
from gridbrain.api.limits import Limits
from gridbrain.api.state import ApiState

__all__ = ["STATIC", "create_app"]

_log = logging.getLogger(__name__)

#: The page's files, served from the package (nothing is loaded from the internet).
STATIC = Path(str(files("gridbrain.api") / "static"))


def create_app(
    state: ApiState, max_body_bytes: int = 65_536, rate_per_s: float = 50.0, burst: int = 200
) -> FastAPI:
    """The API over ``state``'s services; OpenAPI at ``/openapi.json``, docs at ``/docs``."""
    app = FastAPI(
        title="Gridbrain",
        summary="Readings, forecasts, alerts, silences, schedules and the pipeline's state.",
        version="0.1.0",
    )
    app.state.api = state
    app.state.asker = routes_ask.AskerHolder()
    for module in (routes_ops, routes_data, routes_alerts, routes_ask):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # The driver's text may name hosts and users: it is logged, never answered.
        _log.warning("%s %s: database error: %s", request.method, request.url.path, exc.orig)
        if isinstance(exc, OperationalError):
            cancelled = "statement timeout" in str(exc.orig)
            detail = "the query took too long" if cancelled else "database unavailable"
            return JSONResponse({"detail": detail}, 503, {"Retry-After": "5"})
        return JSONResponse({"detail": "the database refused the request"}, 500)

    app.add_middleware(Limits, max_body_bytes=max_body_bytes, rate_per_s=rate_per_s, burst=burst)
    return app
