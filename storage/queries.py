"""Read queries behind the CLI and the API: alerts, quality and stage counters."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridbrain.storage.models import (
    Alert,
    QualityCount,
    Reading,
    StageCount,
    StreamOffset,
)

__all__ = [
    "applied_offsets",
    "list_alerts",
    "quality_counts",
    "readings_between",
    "stage_counts",
]


def readings_between(
    session: Session,
    site: str,
    quantity: str,
    start: datetime,
    end: datetime,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Clean steps of a series in [start, end), oldest first, with their quality flags."""
    query = (
        select(
            Reading.ts,
            Reading.value,
            Reading.quality,
            Reading.n_samples,
            Reading.n_flagged,
        )
        .where(
            Reading.site_id == site,
            Reading.quantity == quantity,
            Reading.ts >= start,
            Reading.ts < end,
        )
        .order_by(Reading.ts)
        .limit(limit)
        .offset(offset)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def list_alerts(
    session: Session,
    site: str | None = None,
    state: str | None = None,
    limit: int = 100,
    rule: str | None = None,
    offset: int = 0,
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
            "quantity": a.quantity,
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
        for a in session.scalars(query.limit(limit).offset(offset))
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
