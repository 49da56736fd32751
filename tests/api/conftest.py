"""A real API server (uvicorn, in a thread) on the session's real PostgreSQL, with seeded rows."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from gridbrain.api.access import Access
from gridbrain.api.app import create_app
from gridbrain.api.database import ApiDatabase
from gridbrain.api.server import serving
from gridbrain.api.state import ApiState
from gridbrain.processors.forecast.forecaster import Forecast
from gridbrain.storage.repositories import add_forecasts
from tests.integration.conftest import Services

STEP = 900_000
T0 = 4_070_908_800_000  # 2099-01-01T00:00Z: far from other tests' rows


@dataclass(frozen=True)
class Seeded:
    """Rows written for the API tests (one site of their own)."""

    site: str
    quantity: str
    issues: list[Forecast]
    readings: list[tuple[int, float | None, str]]
    alert_id: int


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@pytest.fixture(scope="module")
def seeded(services: Services) -> Seeded:
    site, quantity = f"api-{uuid.uuid4().hex[:8]}", "pv_power"
    targets = np.arange(1, 9, dtype=np.int64) * STEP
    issues = [
        Forecast(site, quantity, T0, T0 + targets, p50 - 2, p50, p50 + 2, model)
        for model, p50 in (("arx", np.arange(10.0, 18.0)), ("naive", np.full(8, 12.0)))
    ] + [Forecast(site, quantity, T0 + 4 * STEP, T0 + 4 * STEP + targets,
                  np.full(8, 18.0), np.full(8, 20.0), np.full(8, 22.0), "arx")]  # fmt: skip
    readings: list[tuple[int, float | None, str]] = [
        (T0 + i * STEP, (11.0 + i if i != 3 else None), ("ok" if i != 3 else "flagged"))
        for i in range(1, 9)
    ]
    with services.sessions.begin() as session:
        session.execute(
            text(
                "INSERT INTO sites (site_id, name, kind, capacity_kw, timezone) "
                "VALUES (:s, 'API test plant', 'pv', 50, 'Europe/Madrid')"
            ),
            {"s": site},
        )
        add_forecasts(session, issues)
        session.execute(
            text(
                "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, "
                "n_flagged, quality) VALUES (:s, :q, :ts, :v, coalesce(:v, 0), 3, :f, :quality)"
            ),
            [
                {"s": site, "q": quantity, "ts": _ts(t), "v": v, "f": 3 if v is None else 0,
                 "quality": quality}
                for t, v, quality in readings
            ],
        )  # fmt: skip
        alert_id = session.execute(
            text(
                "INSERT INTO alerts (dedup_key, labels, site_id, rule, quantity, severity, state, "
                "started_at, fired_at, value, peak, message) VALUES (:k, '{}', :s, 'pv_low', :q, "
                "'warning', 'firing', :t, :t, 1.0, 1.0, 'low output') RETURNING id"
            ),
            {"k": f"{site}/pv_low", "s": site, "q": quantity, "t": _ts(T0 + STEP)},
        ).scalar_one()
        session.execute(
            text(
                "INSERT INTO alert_history (dedup_key, started_at, state, reason, at, value, "
                "notified, message) VALUES (:k, :t, 'pending', 'breach', :t, 1.0, false, 'a'), "
                "(:k, :t, 'firing', 'for_elapsed', :t2, 1.0, true, 'b')"
            ),
            {"k": f"{site}/pv_low", "t": _ts(T0 + STEP), "t2": _ts(T0 + 2 * STEP)},
        )
    return Seeded(site, quantity, issues, readings, alert_id)


@contextmanager
def running_api(
    services: Services,
    read: str | None = None,
    write: str | None = None,
    rate_per_s: float = 1000.0,
    burst: int = 1000,
) -> Iterator[str]:
    access = Access(SecretStr(read) if read else None, SecretStr(write) if write else None)
    db = ApiDatabase.connect(services.database_url, 5000, own_login=False)
    app = create_app(ApiState(db, access, None), 65_536, rate_per_s, burst)
    try:
        with serving(app) as url:
            yield url
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def api_url(services: Services, seeded: Seeded) -> Iterator[str]:
    with running_api(services) as url:
        yield url
