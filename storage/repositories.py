"""Repositories: each receives a session and never commits on its own."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from processors.alerting.lifecycle import AlertEvent, AlertState
from processors.forecast.forecaster import MODEL_VERSION, Forecast
from processors.resample import BucketIncrement
from processors.timestamps import ms_to_datetime
from processors.validate import WeatherObservation
from storage.bulk import execute_batch
from storage.models import Alert, Reading, Site, SiteState, StreamOffset

__all__ = [
    "DeadLetterRow",
    "add_alert_events",
    "add_counts",
    "add_dead_letters",
    "add_forecasts",
    "add_quality_counts",
    "add_reading_increments",
    "add_weather",
    "ensure_sites",
    "forget_offsets",
    "latest_reading_ms",
    "load_offsets",
    "load_site_states",
    "open_alerts",
    "save_offsets",
    "save_site_states",
    "site_capacities",
    "upsert_sites",
]


@dataclass(frozen=True)
class DeadLetterRow:
    """A rejected item and where it came from."""

    topic: str
    partition: int
    offset: int
    item_index: int
    reason: str
    detail: str
    payload: str


def ensure_sites(session: Session, site_ids: Iterable[str]) -> None:
    """Register unknown site ids (metadata can be filled in later)."""
    rows = [(s,) for s in sorted(set(site_ids))]
    execute_batch(session, "INSERT INTO sites (site_id) VALUES %s ON CONFLICT DO NOTHING", rows)


def upsert_sites(session: Session, sites: Iterable[Mapping[str, object]]) -> None:
    """Insert or update site metadata (site_id, name, kind, latitude, longitude, capacity_kw)."""
    rows = [
        (
            s["site_id"],
            s.get("name"),
            s.get("kind"),
            s.get("latitude"),
            s.get("longitude"),
            s.get("capacity_kw"),
        )
        for s in sites
    ]
    execute_batch(
        session,
        "INSERT INTO sites (site_id, name, kind, latitude, longitude, capacity_kw) VALUES %s "
        "ON CONFLICT (site_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, "
        "latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, "
        "capacity_kw = EXCLUDED.capacity_kw",
        rows,
    )


def site_capacities(session: Session) -> dict[str, float]:
    """Capacity in kW of every site that has one."""
    rows = session.execute(
        select(Site.site_id, Site.capacity_kw).where(Site.capacity_kw.is_not(None))
    )
    return {site_id: float(cap) for site_id, cap in rows if cap is not None}


def add_reading_increments(session: Session, increments: Iterable[BucketIncrement]) -> None:
    """Add partial sums to the resampled buckets (creating them when new)."""
    rows = [
        (
            i.site_id,
            i.quantity,
            ms_to_datetime(i.ts_ms),
            i.value_sum / i.count,
            i.value_sum,
            i.count,
            "ok",
        )
        for i in increments
    ]
    execute_batch(
        session,
        "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, quality) "
        "VALUES %s ON CONFLICT (site_id, quantity, ts) DO UPDATE SET "
        "value_sum = readings.value_sum + EXCLUDED.value_sum, "
        "n_samples = readings.n_samples + EXCLUDED.n_samples, "
        "value = (readings.value_sum + EXCLUDED.value_sum) "
        "/ (readings.n_samples + EXCLUDED.n_samples)",
        rows,
    )


def add_weather(session: Session, observations: Iterable[WeatherObservation]) -> None:
    """Store weather observations; a repeat of (site, ts) merges its variables."""
    latest: dict[tuple[str, int], WeatherObservation] = {}
    for o in observations:
        latest[(o.site_id, o.ts_ms)] = o
    rows = [
        (o.site_id, ms_to_datetime(o.ts_ms), json.dumps(o.variables), o.description)
        for o in latest.values()
    ]
    execute_batch(
        session,
        "INSERT INTO weather_observations (site_id, ts, variables, description) VALUES %s "
        "ON CONFLICT (site_id, ts) DO UPDATE SET "
        "variables = weather_observations.variables || EXCLUDED.variables, "
        "description = COALESCE(EXCLUDED.description, weather_observations.description)",
        rows,
    )


def add_dead_letters(session: Session, rows: Iterable[DeadLetterRow]) -> None:
    """Store rejected items; storing the same one twice keeps one row."""
    execute_batch(
        session,
        'INSERT INTO dead_letters (topic, "partition", "offset", item_index, reason, detail, '
        "payload) VALUES %s ON CONFLICT DO NOTHING",
        [
            (r.topic, r.partition, r.offset, r.item_index, r.reason, r.detail, r.payload)
            for r in rows
        ],
    )


def add_forecasts(session: Session, forecasts: Iterable[Forecast]) -> int:
    """Upsert forecast rows; returns the number of rows written."""
    rows = []
    for f in forecasts:
        issued = ms_to_datetime(f.issued_at_ms)
        for h in range(len(f.target_ts_ms)):
            rows.append(
                (
                    f.site_id,
                    f.quantity,
                    issued,
                    ms_to_datetime(int(f.target_ts_ms[h])),
                    f.model,
                    MODEL_VERSION,
                    float(f.p10[h]),
                    float(f.p50[h]),
                    float(f.p90[h]),
                )
            )
    execute_batch(
        session,
        "INSERT INTO forecasts (site_id, quantity, issued_at, target_ts, model, model_version, "
        "p10, p50, p90) VALUES %s ON CONFLICT (site_id, quantity, issued_at, target_ts, model) "
        "DO UPDATE SET p10 = EXCLUDED.p10, p50 = EXCLUDED.p50, p90 = EXCLUDED.p90, "
        "model_version = EXCLUDED.model_version",
        rows,
        page_size=5000,
    )
    return len(rows)


def add_alert_events(session: Session, events: Iterable[tuple[AlertEvent, str]]) -> None:
    """Apply alert state changes to their incidents, in order."""
    for event, message in events:
        resolved = ms_to_datetime(event.at_ms) if event.state is AlertState.RESOLVED else None
        session.execute(
            text(
                "INSERT INTO alerts (site_id, rule, severity, state, started_at, resolved_at, "
                "value, message) VALUES (:site, :rule, :sev, :state, :started, :resolved, "
                ":value, :message) ON CONFLICT (site_id, rule, started_at) DO UPDATE SET "
                "state = EXCLUDED.state, resolved_at = EXCLUDED.resolved_at, "
                "value = GREATEST(alerts.value, EXCLUDED.value), message = EXCLUDED.message, "
                "updated_at = now()"
            ),
            {
                "site": event.site_id,
                "rule": event.rule,
                "sev": event.severity,
                "state": str(event.state),
                "started": ms_to_datetime(event.started_at_ms),
                "resolved": resolved,
                "value": event.value,
                "message": message,
            },
        )


def open_alerts(session: Session, rule: str) -> list[tuple[str, int, AlertState, float]]:
    """Incidents of ``rule`` not yet resolved: (site, started_at_ms, state, peak value)."""
    rows = session.execute(
        select(Alert.site_id, Alert.started_at, Alert.state, Alert.value).where(
            Alert.rule == rule, Alert.state != str(AlertState.RESOLVED)
        )
    )
    return [(s, int(t.timestamp() * 1000), AlertState(st), float(v)) for s, t, st, v in rows]


def add_counts(session: Session, stage: str, counts: Mapping[tuple[str, str], int]) -> None:
    """Add to the running counters of a stage: (topic, counter) -> increment."""
    rows = [(stage, topic, counter, n) for (topic, counter), n in sorted(counts.items()) if n]
    execute_batch(
        session,
        "INSERT INTO stage_counts (stage, topic, counter, value) VALUES %s "
        "ON CONFLICT (stage, topic, counter) DO UPDATE SET "
        "value = stage_counts.value + EXCLUDED.value, updated_at = now()",
        rows,
    )


def add_quality_counts(session: Session, counts: Mapping[tuple[str, str], int]) -> None:
    """Add to the per-site check counters: (site, check) -> increment."""
    execute_batch(
        session,
        'INSERT INTO quality_counts (site_id, "check", value) VALUES %s '
        'ON CONFLICT (site_id, "check") DO UPDATE SET '
        "value = quality_counts.value + EXCLUDED.value, updated_at = now()",
        [(site, check, n) for (site, check), n in sorted(counts.items()) if n],
    )


def load_offsets(session: Session, stage: str) -> dict[tuple[str, int], int]:
    """The last committed input offset per (topic, partition) of a stage."""
    rows = session.execute(
        select(StreamOffset.topic, StreamOffset.partition, StreamOffset.offset).where(
            StreamOffset.stage == stage
        )
    )
    return {(topic, partition): offset for topic, partition, offset in rows}


def forget_offsets(session: Session) -> None:
    """Forget every stored input offset (the broker's topics were recreated from scratch)."""
    session.execute(text("DELETE FROM stream_offsets"))


def latest_reading_ms(session: Session, site_ids: list[str]) -> int | None:
    """Start time of the newest stored step of any of ``site_ids``."""
    newest = session.scalar(select(func.max(Reading.ts)).where(Reading.site_id.in_(site_ids)))
    return None if newest is None else int(newest.timestamp() * 1000)


def load_site_states(session: Session, stage: str, site_ids: Iterable[str]) -> dict[str, Any]:
    """The saved state of each of ``site_ids`` that has one."""
    rows = session.execute(
        select(SiteState.site_id, SiteState.state).where(
            SiteState.stage == stage, SiteState.site_id.in_(list(site_ids))
        )
    )
    return {site_id: state for site_id, state in rows}


def save_site_states(session: Session, stage: str, states: Mapping[str, Any]) -> None:
    """Save (replace) the state of the given sites."""
    execute_batch(
        session,
        "INSERT INTO site_state (stage, site_id, state) VALUES %s ON CONFLICT (stage, site_id) "
        "DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
        [(stage, site_id, json.dumps(state)) for site_id, state in sorted(states.items())],
    )


def save_offsets(session: Session, stage: str, offsets: Mapping[tuple[str, int], int]) -> None:
    """Record the last input offset whose effects this transaction commits."""
    execute_batch(
        session,
        'INSERT INTO stream_offsets (stage, topic, "partition", "offset") VALUES %s '
        'ON CONFLICT (stage, topic, "partition") DO UPDATE SET '
        '"offset" = GREATEST(stream_offsets."offset", EXCLUDED."offset")',
        [(stage, t, p, o) for (t, p), o in sorted(offsets.items())],
    )
