"""Alert incidents, their state history and silences."""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gridbrain.processors.alerting.lifecycle import Change, Incident
from gridbrain.processors.alerting.matchers import Silence as ActiveSilence
from gridbrain.processors.alerting.matchers import parse_matcher
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.storage.bulk import execute_batch
from gridbrain.storage.models import Alert, AlertHistory, Silence

__all__ = [
    "add_silence",
    "alert_history",
    "expire_silence",
    "list_silences",
    "load_silences",
    "record_changes",
]


def _ts(ms: int | None) -> datetime | None:
    return None if ms is None else ms_to_datetime(ms)


def record_changes(
    session: Session, changes: Iterable[Change], current: Iterable[Incident] = ()
) -> int:
    """Upsert each incident once, as it is now, and append the changes' history rows.

    ``current`` holds open incidents as they are after the batch (evaluated, changed or
    not); they win over the snapshots of the changes.
    """
    changes = list(changes)
    latest = {(c.incident.key, c.incident.started_at_ms): c.incident for c in changes}
    latest.update({(i.key, i.started_at_ms): i for i in current})
    _upsert_incidents(session, latest.values())
    history = [
        (
            c.incident.key,
            _ts(c.incident.started_at_ms),
            str(c.state),
            c.reason,
            _ts(c.at_ms),
            c.value,
            c.notify,
            c.incident.message,
        )
        for c in changes
    ]
    execute_batch(
        session,
        "INSERT INTO alert_history (dedup_key, started_at, state, reason, at, value, notified, "
        "message) VALUES %s ON CONFLICT DO NOTHING",
        history,
    )
    return len(history)


def _upsert_incidents(session: Session, incidents: Iterable[Incident]) -> None:
    rows = [
        (
            i.key,
            _json(i.labels),
            i.labels["site_id"],
            i.labels["alertname"],
            i.labels.get("quantity"),
            i.labels["severity"],
            str(i.state),
            _ts(i.started_at_ms),
            _ts(i.fired_at_ms),
            _ts(i.resolved_at_ms),
            _ts(i.expected_at_ms),
            None if i.no_data else i.value,
            i.peak,
            i.no_data,
            i.silenced,
            i.inhibited,
            None if i.notified is None else str(i.notified),
            _ts(i.last_notified_ms),
            i.message,
        )
        for i in incidents
    ]
    execute_batch(
        session,
        "INSERT INTO alerts (dedup_key, labels, site_id, rule, quantity, severity, state, "
        "started_at, fired_at, resolved_at, expected_at, value, peak, no_data, silenced, "
        "inhibited, notified, last_notified_at, message) VALUES %s "
        "ON CONFLICT (dedup_key, started_at) DO UPDATE SET state = EXCLUDED.state, "
        "fired_at = EXCLUDED.fired_at, resolved_at = EXCLUDED.resolved_at, "
        "expected_at = EXCLUDED.expected_at, value = EXCLUDED.value, peak = EXCLUDED.peak, "
        "no_data = EXCLUDED.no_data, silenced = EXCLUDED.silenced, "
        "inhibited = EXCLUDED.inhibited, notified = EXCLUDED.notified, "
        "last_notified_at = EXCLUDED.last_notified_at, message = EXCLUDED.message, "
        "updated_at = now()",
        rows,
        template="(%s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s, %s)",
    )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def load_silences(session: Session, now: datetime) -> list[ActiveSilence]:
    """Silences that have not ended (active now or scheduled)."""
    rows = session.scalars(select(Silence).where(Silence.ends_at > now))
    return [
        ActiveSilence(
            s.id,
            tuple(parse_matcher(m) for m in s.matchers),
            int(s.starts_at.timestamp() * 1000),
            int(s.ends_at.timestamp() * 1000),
        )
        for s in rows
    ]


def add_silence(
    session: Session,
    matchers: list[str],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
) -> int:
    """Store a silence; return its id (matchers are validated first).

    Raises:
        ValueError: a matcher does not parse, or the window is empty.
    """
    parsed = [str(parse_matcher(m)) for m in matchers]
    if not parsed:
        raise ValueError("a silence needs at least one matcher")
    if ends_at <= starts_at:
        raise ValueError("a silence must end after it starts")
    silence = Silence(
        matchers=parsed, starts_at=starts_at, ends_at=ends_at, created_by=created_by,
        comment=comment,
    )  # fmt: skip
    session.add(silence)
    session.flush()
    return silence.id


def expire_silence(session: Session, silence_id: int, now: datetime) -> bool:
    """End a silence now; False when there is no such silence still running."""
    result = session.execute(
        update(Silence).where(Silence.id == silence_id, Silence.ends_at > now).values(ends_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_silences(session: Session, now: datetime, include_expired: bool) -> list[dict[str, Any]]:
    """Silences, newest first, with their status (active, pending or expired)."""
    query = select(Silence).order_by(Silence.id.desc())
    if not include_expired:
        query = query.where(Silence.ends_at > now)
    return [
        {
            "id": s.id,
            "matchers": ",".join(s.matchers),
            "status": "expired"
            if s.ends_at <= now
            else "pending"
            if s.starts_at > now
            else "active",
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "created_by": s.created_by,
            "comment": s.comment,
        }
        for s in session.scalars(query)
    ]


def alert_history(session: Session, alert_id: int) -> list[dict[str, Any]]:
    """The state history of one incident, oldest first."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        return []
    rows = session.scalars(
        select(AlertHistory)
        .where(
            AlertHistory.dedup_key == alert.dedup_key, AlertHistory.started_at == alert.started_at
        )
        .order_by(AlertHistory.at, AlertHistory.id)
    )
    return [
        {
            "at": h.at,
            "state": h.state,
            "reason": h.reason,
            "value": h.value,
            "notified": h.notified,
            "message": h.message,
        }
        for h in rows
    ]
