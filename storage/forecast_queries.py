"""Forecast reads: the newest issue, an issue as of a time, and accuracy against actuals.

Each reads a bounded part of ``forecast_issues`` through its primary key (site, quantity,
issue time, model) or the writer-kept ``forecast_latest``: none aggregates the table.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["forecast_accuracy", "forecast_as_of", "latest_forecasts"]

#: One row per target of the issues in ``chosen`` (site_id, quantity, issued_at).
_TARGETS = (
    "SELECT f.site_id, f.quantity, f.issued_at, "
    "f.first_target + (u.h - 1) * f.step_ms * interval '1 millisecond' AS target_ts, "
    "u.p10, u.p50, u.p90, f.model, f.model_version, f.completeness, f.fallback "
    "FROM chosen JOIN forecast_issues f USING (site_id, quantity, issued_at) "
    "CROSS JOIN LATERAL unnest(f.p10, f.p50, f.p90) WITH ORDINALITY AS u(p10, p50, p90, h) "
)


def latest_forecasts(
    session: Session,
    site: str | None = None,
    quantity: str | None = None,
    horizons: int | None = 4,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The newest forecast issue of every (site, quantity), one row per target.

    Each model that issued then gives its first ``horizons`` targets (None or 0: all).
    """
    where = [
        *(["site_id = :site"] if site is not None else []),
        *(["quantity = :quantity"] if quantity is not None else []),
    ]
    sql = text(
        "WITH chosen AS (SELECT site_id, quantity, issued_at FROM forecast_latest "
        f"{'WHERE ' + ' AND '.join(where) if where else ''}) {_TARGETS}"
        f"{'WHERE u.h <= :horizons' if horizons else ''} "
        "ORDER BY f.site_id, f.quantity, target_ts, f.model LIMIT :limit OFFSET :offset"
    )
    params = {
        "site": site,
        "quantity": quantity,
        "horizons": horizons,
        "limit": limit,
        "offset": offset,
    }
    return [dict(row) for row in session.execute(sql, params).mappings()]


def forecast_as_of(
    session: Session, site: str, quantity: str, at: datetime, limit: int = 10_000
) -> list[dict[str, Any]]:
    """The forecast of a series as it stood at ``at``: its newest issue no later than then."""
    sql = text(
        "WITH chosen AS (SELECT site_id, quantity, issued_at FROM forecast_issues "
        "WHERE site_id = :site AND quantity = :quantity AND issued_at <= :at "
        f"ORDER BY issued_at DESC LIMIT 1) {_TARGETS}"
        "ORDER BY target_ts, f.model LIMIT :limit"
    )
    params = {"site": site, "quantity": quantity, "at": at, "limit": limit}
    return [dict(row) for row in session.execute(sql, params).mappings()]


def forecast_accuracy(
    session: Session, site: str, quantity: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Accuracy per model and horizon of the issues made in [start, end), against actuals.

    ``mae`` is the mean absolute error of p50; ``pinball`` the mean quantile loss over
    p10/p50/p90; ``coverage`` the share of actuals within [p10, p90]; ``n`` the pairs
    scored (targets with a clean reading); ``horizon_h`` the lead time in hours.
    """
    sql = text(
        "WITH pairs AS (SELECT f.model, u.h, f.step_ms, u.p10, u.p50, u.p90, r.value "
        "FROM forecast_issues f "
        "CROSS JOIN LATERAL unnest(f.p10, f.p50, f.p90) WITH ORDINALITY AS u(p10, p50, p90, h) "
        "JOIN readings r ON r.site_id = f.site_id AND r.quantity = f.quantity "
        "AND r.ts = f.first_target + (u.h - 1) * f.step_ms * interval '1 millisecond' "
        "WHERE f.site_id = :site AND f.quantity = :quantity "
        "AND f.issued_at >= :start AND f.issued_at < :end AND r.value IS NOT NULL) "
        "SELECT model, h AS horizon, "
        "round((h * max(step_ms) / 3600000.0)::numeric, 4)::float8 AS horizon_h, "
        "count(*) AS n, avg(abs(value - p50)) AS mae, "
        "avg((greatest(0.1 * (value - p10), 0.9 * (p10 - value)) "
        "+ greatest(0.5 * (value - p50), 0.5 * (p50 - value)) "
        "+ greatest(0.9 * (value - p90), 0.1 * (p90 - value))) / 3) AS pinball, "
        "avg(CASE WHEN value BETWEEN p10 AND p90 THEN 1.0 ELSE 0.0 END)::float8 AS coverage "
        "FROM pairs GROUP BY model, h ORDER BY model, h"
    )
    params = {"site": site, "quantity": quantity, "start": start, "end": end}
    return [dict(row) for row in session.execute(sql, params).mappings()]
