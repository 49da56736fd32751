"""Read queries behind the CLI: latest forecasts, alerts and stage counters."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Alert, DeadLetter, Forecast, Reading, StageCount

__all__ = ["latest_forecasts", "list_alerts", "stage_counts", "table_counts"]


def latest_forecasts(
    session: Session, site: str | None = None, quantity: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Rows of the newest forecast issue of every (site, quantity), soonest targets first."""
    newest = (
        select(Forecast.site_id, Forecast.quantity, func.max(Forecast.issued_at).label("issued"))
        .group_by(Forecast.site_id, Forecast.quantity)
        .subquery()
    )
    query = (
        select(Forecast)
        .join(
            newest,
            (Forecast.site_id == newest.c.site_id)
            & (Forecast.quantity == newest.c.quantity)
            & (Forecast.issued_at == newest.c.issued),
        )
        .order_by(Forecast.site_id, Forecast.quantity, Forecast.target_ts)
    )
    if site:
        query = query.where(Forecast.site_id == site)
    if quantity:
        query = query.where(Forecast.quantity == quantity)
    return [
        {
            "site_id": f.site_id,
            "quantity": f.quantity,
            "issued_at": f.issued_at,
            "target_ts": f.target_ts,
            "p10": f.p10,
            "p50": f.p50,
            "p90": f.p90,
            "model": f.model,
            "model_version": f.model_version,
        }
        for f in session.scalars(query.limit(limit))
    ]


def list_alerts(
    session: Session, site: str | None = None, state: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Alert incidents, newest first."""
    query = select(Alert).order_by(Alert.started_at.desc())
    if site:
        query = query.where(Alert.site_id == site)
    if state:
        query = query.where(Alert.state == state)
    return [
        {
            "site_id": a.site_id,
            "rule": a.rule,
            "severity": a.severity,
            "state": a.state,
            "started_at": a.started_at,
            "resolved_at": a.resolved_at,
            "value": a.value,
            "message": a.message,
        }
        for a in session.scalars(query.limit(limit))
    ]


def stage_counts(session: Session) -> dict[tuple[str, str], dict[str, int]]:
    """(stage, topic) -> counter -> value."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for row in session.scalars(select(StageCount)):
        out.setdefault((row.stage, row.topic), {})[row.counter] = row.value
    return out


def table_counts(session: Session) -> dict[str, int]:
    """Exact row counts of the main tables."""
    result: dict[str, int] = {}
    for name, model in (
        ("readings", Reading),
        ("forecasts", Forecast),
        ("alerts", Alert),
        ("dead_letters", DeadLetter),
    ):
        result[name] = int(session.scalar(select(func.count()).select_from(model)) or 0)
    return result
