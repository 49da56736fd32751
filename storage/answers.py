"""The allow-listed queries behind ``gridbrain ask``: one per intent, parameterised.

Every query reads only its intent's tables, with values drawn from the question's slots
(a registered site id, a known quantity, numbers, times), always as bound parameters.
The caller runs them on a read-only connection with a statement timeout
(:class:`api.database.ApiDatabase`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridbrain.storage.alerts import alert_history, list_silences
from gridbrain.storage.forecast_queries import forecast_as_of, latest_forecasts
from gridbrain.storage.queries import list_alerts, quality_counts, readings_between, stage_counts
from gridbrain.storage.schedules import latest_schedule
from gridbrain.storage.workers import live_workers

__all__ = ["ANSWER_QUERIES", "Ask", "site_directory"]

Rows = list[dict[str, Any]]
_LIMIT = 10_000


@dataclass(frozen=True)
class Ask:
    """The slots of an understood question, as query parameters."""

    site: str | None
    quantity: str | None
    start: datetime | None
    end: datetime | None
    threshold: float | None
    now: datetime


def site_directory(session: Session) -> dict[str, tuple[str | None, str | None, bool]]:
    """Every registered site: (kind, time zone, whether it has a battery to dispatch)."""
    rows = session.execute(text("SELECT site_id, kind, timezone, dispatch ? 'storage' FROM sites"))
    return {site: (kind, zone, bool(battery)) for site, kind, zone, battery in rows}


def _in_period(rows: Rows, key: str, ask: Ask) -> Rows:
    return [
        r
        for r in rows
        if (ask.start is None or r[key] >= ask.start) and (ask.end is None or r[key] < ask.end)
    ]


def _newest_forecast(session: Session, ask: Ask) -> Rows:
    rows = latest_forecasts(session, ask.site, ask.quantity, 0, _LIMIT)
    newest_model = rows[0]["model"] if rows else None
    return _in_period([r for r in rows if r["model"] == newest_model], "target_ts", ask)


def _forecast_vs_actual(session: Session, ask: Ask) -> Rows:
    assert ask.site and ask.quantity and ask.start and ask.end
    issued = forecast_as_of(session, ask.site, ask.quantity, ask.start, _LIMIT)
    model = issued[0]["model"] if issued else None
    actual = {
        r["ts"]: r["value"]
        for r in readings_between(session, ask.site, ask.quantity, ask.start, ask.end, _LIMIT)
    }
    return [
        {**f, "actual": actual[f["target_ts"]]}
        for f in _in_period(issued, "target_ts", ask)
        if f["model"] == model and actual.get(f["target_ts"]) is not None
    ]


def _readings(session: Session, ask: Ask) -> Rows:
    assert ask.site and ask.quantity and ask.start and ask.end
    return readings_between(session, ask.site, ask.quantity, ask.start, ask.end, _LIMIT)


def _reading_latest(session: Session, ask: Ask) -> Rows:
    rows = session.execute(
        text(
            "SELECT ts, value, quality FROM readings WHERE site_id = :s AND quantity = :q "
            "AND value IS NOT NULL ORDER BY ts DESC LIMIT 1"
        ),
        {"s": ask.site, "q": ask.quantity},
    ).mappings()
    return [dict(r) for r in rows]


def _alerts_between(session: Session, ask: Ask) -> Rows:
    rows = session.execute(
        text(
            "SELECT id, site_id, rule, quantity, severity, state, started_at, resolved_at, peak "
            "FROM alerts WHERE started_at >= :start AND started_at < :end "
            "AND (CAST(:site AS text) IS NULL OR site_id = :site) "
            "AND (CAST(:q AS text) IS NULL OR quantity = :q) ORDER BY started_at DESC LIMIT 1000"
        ),
        {"start": ask.start, "end": ask.end, "site": ask.site, "q": ask.quantity},
    ).mappings()
    return [dict(r) for r in rows]


def _of_quantity(alert: dict[str, Any], ask: Ask) -> bool:
    """Whether an incident is of the asked quantity (rules on no quantity always are)."""
    return ask.quantity is None or alert["quantity"] in (None, ask.quantity)


def _open_alerts(session: Session, ask: Ask) -> Rows:
    rows = list_alerts(session, ask.site, None, 1000)
    return [r for r in rows if r["state"] in ("pending", "firing") and _of_quantity(r, ask)]


def _next_exceedance(session: Session, ask: Ask) -> Rows:
    rows = session.execute(
        text(
            "SELECT id, site_id, rule, quantity, severity, state, expected_at, value, message "
            "FROM alerts WHERE expected_at IS NOT NULL AND expected_at >= :now "
            "AND state IN ('pending', 'firing') "
            "AND (CAST(:site AS text) IS NULL OR site_id = :site) "
            "AND (CAST(:q AS text) IS NULL OR quantity = :q) ORDER BY expected_at LIMIT 20"
        ),
        {"now": ask.now, "site": ask.site, "q": ask.quantity},
    ).mappings()
    return [dict(r) for r in rows]


def _alert_history(session: Session, ask: Ask) -> Rows:
    latest = [a for a in list_alerts(session, ask.site, None, 50) if _of_quantity(a, ask)]
    if not latest:
        return []
    return [{"id": latest[0]["id"], "rule": latest[0]["rule"], **h}
            for h in alert_history(session, latest[0]["id"])]  # fmt: skip


def _rejected(session: Session, ask: Ask) -> Rows:
    needle = f'"site_id": "{ask.site}"' if ask.site else None
    rows = session.execute(
        text(
            "SELECT reason, count(*) AS messages, min(received_at) AS first, "
            "max(received_at) AS last FROM dead_letters "
            "WHERE received_at >= :start AND received_at < :end "
            "AND (CAST(:needle AS text) IS NULL OR strpos(payload, :needle) > 0) "
            "GROUP BY reason ORDER BY 2 DESC"
        ),
        {"start": ask.start, "end": ask.end, "needle": needle},
    ).mappings()
    return [dict(r) for r in rows]


def _pipeline(session: Session, ask: Ask) -> Rows:
    counts = stage_counts(session)
    return [{"stage": stage, "topic": topic, **values}
            for (stage, topic), values in sorted(counts.items())]  # fmt: skip


def _workers(session: Session, ask: Ask) -> Rows:
    return [
        {"worker": w.worker_id, "roles": w.roles, "state": w.state,
         "partitions": len(w.partitions), "retries": w.retries, "reported": w.updated_at}
        for w in live_workers(session, 60.0)
    ]  # fmt: skip


_KIND_OF = {"pv_power": "pv", "wind_power": "wind", "load": "load", "pm25": "air", "pm10": "air",
            "no2": "air", "o3": "air", "so2": "air", "price": "market"}  # fmt: skip


def _sites(session: Session, ask: Ask) -> Rows:
    rows = session.execute(
        text(
            "SELECT site_id, kind, capacity_kw, timezone FROM sites "
            "WHERE CAST(:kind AS text) IS NULL OR kind = :kind ORDER BY site_id"
        ),
        {"kind": _KIND_OF.get(ask.quantity or "")},
    ).mappings()
    return [dict(r) for r in rows]


def _schedule(session: Session, ask: Ask) -> Rows:
    assert ask.site
    return _in_period(latest_schedule(session, ask.site), "ts", ask)


#: intent -> the query that answers it.
ANSWER_QUERIES: dict[str, Callable[[Session, Ask], Rows]] = {
    "forecast_at": _newest_forecast,
    "forecast_summary": _newest_forecast,
    "forecast_peak": _newest_forecast,
    "forecast_vs_actual": _forecast_vs_actual,
    "forecast_model": lambda s, a: latest_forecasts(s, a.site, a.quantity, 1, 50),
    "forecast_uncertainty": _newest_forecast,
    "reading_latest": _reading_latest,
    "reading_summary": _readings,
    "reading_above": _readings,
    "reading_gaps": lambda s, a: [r for r in _readings(s, a) if r["quality"] != "ok"],
    "alerts_open": _open_alerts,
    "alert_sites": _alerts_between,
    "alert_count": _alerts_between,
    "next_exceedance": _next_exceedance,
    "alert_history": _alert_history,
    "silences_active": lambda s, a: list_silences(s, a.now, False),
    "rejected_readings": _rejected,
    "data_quality": lambda s, a: quality_counts(s, a.site),
    "pipeline_status": _pipeline,
    "workers_running": _workers,
    "sites_list": _sites,
    "battery_schedule": _schedule,
    "battery_soc": _schedule,
}
