"""Read queries behind the CLI: latest forecasts, alerts and stage counters."""

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridbrain.storage.models import (
    Alert,
    QualityCount,
    StageCount,
    StreamOffset,
)

__all__ = [
    "applied_offsets",
    "latest_forecasts",
    "list_alerts",
    "quality_counts",
    "stage_counts",
]


def latest_forecasts(
    session: Session,
    site: str | None = None,
    quantity: str | None = None,
    horizons: int | None = 4,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """The newest forecast issue of every (site, quantity), one row per target.

    Each model that issued then gives its first ``horizons`` targets.
    """
    where = [
        *(["site_id = :site"] if site else []),
        *(["quantity = :quantity"] if quantity else []),
    ]
    sql = text(
        "WITH newest AS (SELECT DISTINCT ON (site_id, quantity) site_id, quantity, issued_at "
        f"FROM forecast_issues {'WHERE ' + ' AND '.join(where) if where else ''} "
        "ORDER BY site_id, quantity, issued_at DESC) "
        "SELECT f.site_id, f.quantity, f.issued_at, "
        "f.first_target + (u.h - 1) * f.step_ms * interval '1 millisecond' AS target_ts, "
        "u.p10, u.p50, u.p90, f.model, f.model_version, f.completeness "
        "FROM newest JOIN forecast_issues f USING (site_id, quantity, issued_at) "
        "CROSS JOIN LATERAL unnest(f.p10, f.p50, f.p90) WITH ORDINALITY AS u(p10, p50, p90, h) "
        f"{'WHERE u.h <= :horizons' if horizons else ''} "
        "ORDER BY f.site_id, f.quantity, target_ts, f.model LIMIT :limit"
    )
    params = {"site": site, "quantity": quantity, "horizons": horizons, "limit": limit}
    return [dict(row) for row in session.execute(sql, params).mappings()]


def list_alerts(
    session: Session,
    site: str | None = None,
    state: str | None = None,
    limit: int = 100,
    rule: str | None = None,
) -> list[dict[str, Any]]:
    """Alert incidents, newest first (``id`` is what ``alerts --history`` takes)."""
    query = select(Alert).order_by(Alert.started_at.desc(), Alert.id.desc())
    if site:
        query = query.where(Alert.site_id == site)
    if state:
        query = query.where(Alert.state == state)
    if rule:
        query = query.where(Alert.rule == rule)
    return [
        {
            "id": a.id,
            "site_id": a.site_id,
            "rule": a.rule,
            "severity": a.severity,
            "state": a.state,
            "started_at": a.started_at,
            "fired_at": a.fired_at,
            "resolved_at": a.resolved_at,
            "value": a.value,
            "peak": a.peak,
            "flags": ",".join(
                f
                for f, on in (
                    ("no_data", a.no_data),
                    ("silenced", a.silenced),
                    ("inhibited", a.inhibited),
                )
                if on
            ),
            "expected_at": a.expected_at,
            "message": a.message,
        }
        for a in session.scalars(query.limit(limit))
    ]


def stage_counts(session: Session) -> dict[tuple[str, str], dict[str, int]]:
    """(stage, topic) -> counter -> value."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    query = select(
        StageCount.stage, StageCount.topic, StageCount.counter, func.sum(StageCount.value)
    ).group_by(StageCount.stage, StageCount.topic, StageCount.counter)
    for stage, topic, counter, value in session.execute(query):
        out.setdefault((stage, topic), {})[counter] = int(value)
    return out


_KEPT = ("clean", "spike", "rate", "flatline", "duplicate")
_GAPS = ("gap_interpolated_steps", "gap_missing_steps")


def quality_counts(session: Session, site: str | None = None) -> list[dict[str, Any]]:
    """Per site: what happened to every reading received, and the gaps found.

    ``received`` = ``clean`` + flagged (``spike``, ``rate``, ``flatline``; kept in the
    readings table's ``n_flagged``, left out of the means) + ``duplicate`` +
    ``deadlettered`` (by reason in ``rejected``). Gap columns count resampled steps.
    """
    query = (
        select(QualityCount.site_id, QualityCount.check, func.sum(QualityCount.value))
        .group_by(QualityCount.site_id, QualityCount.check)
        .order_by(QualityCount.site_id, QualityCount.check)
    )
    if site:
        query = query.where(QualityCount.site_id == site)
    per_site: dict[str, dict[str, int]] = {}
    for site_id, check, value in session.execute(query):
        per_site.setdefault(site_id, {})[check] = int(value)
    rows = []
    for site_id, checks in per_site.items():
        rejected = {k: v for k, v in checks.items() if k not in _KEPT and k not in _GAPS}
        row: dict[str, Any] = {"site_id": site_id}
        row["received"] = sum(v for k, v in checks.items() if k not in _GAPS)
        row.update({k: checks.get(k, 0) for k in _KEPT})
        row["deadlettered"] = sum(rejected.values())
        row.update({k: checks.get(k, 0) for k in _GAPS})
        row["rejected"] = ", ".join(f"{k}={v}" for k, v in sorted(rejected.items()))
        rows.append(row)
    return rows


def applied_offsets(session: Session) -> dict[tuple[str, str], dict[tuple[str, int], int]]:
    """(stage, topic) -> the last input offset applied per (topic, partition)."""
    out: dict[tuple[str, str], dict[tuple[str, int], int]] = {}
    for stage, topic, partition, offset in session.execute(
        select(StreamOffset.stage, StreamOffset.topic, StreamOffset.partition, StreamOffset.offset)
    ):
        out.setdefault((stage, topic), {})[(topic, partition)] = offset
    return out
