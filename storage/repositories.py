"""Repositories: each receives a session and never commits on its own."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridbrain.processors.resample import BucketIncrement, FilledGap
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.storage.bulk import MS_TO_TS, execute_batch, stage_rows
from gridbrain.storage.models import Reading, SiteState, StreamOffset

if TYPE_CHECKING:  # the forecaster pulls in torch: not for every storage user
    from gridbrain.processors.forecast.forecaster import Forecast

__all__ = [
    "DeadLetterRow",
    "add_counts",
    "add_dead_letters",
    "add_forecasts",
    "add_gap_fills",
    "add_quality_counts",
    "add_reading_increments",
    "forget_offsets",
    "latest_reading_ms",
    "load_offsets",
    "load_site_states",
    "save_offsets",
    "save_site_states",
    "saved_site_ids",
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
    payload_bytes: bytes | None = None


_READING_QUALITY = (
    "CASE WHEN {n} > 0 AND {f} > 0 THEN 'cleaned' WHEN {n} > 0 THEN 'ok' ELSE 'flagged' END"
)


def add_reading_increments(session: Session, increments: Iterable[BucketIncrement]) -> None:
    """Add partial sums to the resampled steps (creating them when new).

    Clean readings add to the mean; flagged ones only to ``n_flagged``. A step whose
    readings were all flagged keeps a NULL value (quality ``flagged``).
    """
    rows = [(i.site_id, i.quantity, i.ts_ms, i.value_sum, i.count, i.flagged) for i in increments]
    n = "(readings.n_samples + EXCLUDED.n_samples)"
    f = "(readings.n_flagged + EXCLUDED.n_flagged)"
    stage_rows(
        session,
        "staged_readings",
        "site_id text, quantity text, ts_ms bigint, value_sum float8, n int, f int",
        rows,
        "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, n_flagged, "
        f"quality) SELECT site_id, quantity, {MS_TO_TS.format('ts_ms')}, "
        "CASE WHEN n > 0 THEN value_sum / n END, value_sum, n, f, "
        f"{_READING_QUALITY.format(n='n', f='f')} FROM staged_readings "
        "ON CONFLICT (site_id, quantity, ts) DO UPDATE SET "
        "value_sum = readings.value_sum + EXCLUDED.value_sum, "
        f"n_samples = {n}, n_flagged = {f}, "
        f"value = CASE WHEN {n} > 0 THEN (readings.value_sum + EXCLUDED.value_sum) / {n} END, "
        f"quality = {_READING_QUALITY.format(n=n, f=f)}",
    )


def add_gap_fills(session: Session, gaps: Iterable[FilledGap]) -> None:
    """Store the interpolated steps of short gaps (quality ``interpolated``).

    A step that exists only because all its readings were flagged gets the interpolated
    value; a step with clean readings is never overwritten.
    """
    rows = [
        (g.site_id, g.quantity, ms_to_datetime(ts), value)
        for g in gaps
        if g.fill.values is not None
        for ts, value in zip(g.fill.ts_ms, g.fill.values, strict=True)
    ]
    execute_batch(
        session,
        "INSERT INTO readings (site_id, quantity, ts, value, value_sum, n_samples, n_flagged, "
        "quality) VALUES %s ON CONFLICT (site_id, quantity, ts) DO UPDATE SET "
        "value = EXCLUDED.value, quality = 'interpolated' WHERE readings.n_samples = 0",
        rows,
        template="(%s, %s, %s, %s, 0, 0, 0, 'interpolated')",
    )


def add_dead_letters(session: Session, rows: Iterable[DeadLetterRow]) -> int:
    """Store rejected items; storing the same one twice (same broker epoch) keeps one row.

    Returns the broker epoch they were stored under.
    """
    epoch = int(session.scalar(text("SELECT epoch FROM broker_epoch")) or 0)
    execute_batch(
        session,
        'INSERT INTO dead_letters (epoch, topic, "partition", "offset", item_index, reason, '
        "detail, payload, payload_bytes) VALUES %s ON CONFLICT DO NOTHING",
        [
            (
                epoch,
                r.topic,
                r.partition,
                r.offset,
                r.item_index,
                r.reason,
                r.detail,
                r.payload,
                r.payload_bytes,
            )
            for r in rows
        ],
        template="(%s, %s, %s::int, %s::bigint, %s::int, %s, %s, %s, %s::bytea)",
    )
    return epoch


def add_forecasts(session: Session, forecasts: Iterable["Forecast"]) -> int:
    """Upsert forecasts, one row per issue; returns the number of targets written.

    The targets of a forecast must be evenly spaced (the row keeps the first and the
    step); anything else is a bug of the caller.
    """
    rows: list[tuple[Any, ...]] = []
    targets = 0
    for f in forecasts:
        first = int(f.target_ts_ms[0])
        steps = np.diff(f.target_ts_ms)
        step = int(steps[0]) if len(steps) else 0
        if len(steps) and np.any(steps != step):
            raise ValueError(f"uneven target times in a forecast of {f.site_id}/{f.quantity}")
        rows.append(
            (
                f.site_id,
                f.quantity,
                f.issued_at_ms,
                f.model,
                f.model_version,
                first,
                step,
                f.p10,
                f.p50,
                f.p90,
                f.completeness,
                f.fallback,
            )
        )
        targets += len(f.target_ts_ms)
    stage_rows(
        session,
        "staged_forecasts",
        "site_id text, quantity text, issued_ms bigint, model text, model_version text, "
        "first_ms bigint, step_ms integer, p10 float8[], p50 float8[], p90 float8[], "
        "completeness float8, fallback text",
        rows,
        "INSERT INTO forecast_issues (site_id, quantity, issued_at, model, model_version, "
        "first_target, step_ms, p10, p50, p90, completeness, fallback) SELECT site_id, "
        f"quantity, {MS_TO_TS.format('issued_ms')}, model, model_version, "
        f"{MS_TO_TS.format('first_ms')}, step_ms, p10, p50, p90, completeness, fallback "
        "FROM staged_forecasts ON CONFLICT (site_id, quantity, issued_at, model) "
        "DO UPDATE SET model_version = EXCLUDED.model_version, "
        "first_target = EXCLUDED.first_target, step_ms = EXCLUDED.step_ms, p10 = EXCLUDED.p10, "
        "p50 = EXCLUDED.p50, p90 = EXCLUDED.p90, completeness = EXCLUDED.completeness, "
        "fallback = EXCLUDED.fallback",
        binary=True,
    )
    if not rows:
        return 0
    session.execute(  # the newest issue per series, so readers never aggregate the issues
        text(
            "INSERT INTO forecast_latest (site_id, quantity, issued_at) "
            f"SELECT site_id, quantity, max({MS_TO_TS.format('issued_ms')}) "
            "FROM staged_forecasts GROUP BY 1, 2 ON CONFLICT (site_id, quantity) DO UPDATE SET "
            "issued_at = GREATEST(forecast_latest.issued_at, EXCLUDED.issued_at)"
        )
    )
    return targets


def add_counts(
    session: Session, stage: str, counts: Mapping[tuple[str, str], int], shard: int = 0
) -> None:
    """Add to the running counters of a stage: (topic, counter) -> increment.

    ``shard`` splits each counter's row (see :class:`storage.models.StageCount`).
    """
    rows = [
        (stage, topic, counter, shard, n) for (topic, counter), n in sorted(counts.items()) if n
    ]
    execute_batch(
        session,
        "INSERT INTO stage_counts (stage, topic, counter, shard, value) VALUES %s "
        "ON CONFLICT (stage, topic, counter, shard) DO UPDATE SET "
        "value = stage_counts.value + EXCLUDED.value, updated_at = now()",
        rows,
    )


def add_quality_counts(
    session: Session, counts: Mapping[tuple[str, str], int], shard: int = 0
) -> None:
    """Add to the per-site check counters: (site, check) -> increment."""
    execute_batch(
        session,
        'INSERT INTO quality_counts (site_id, "check", shard, value) VALUES %s '
        'ON CONFLICT (site_id, "check", shard) DO UPDATE SET '
        "value = quality_counts.value + EXCLUDED.value, updated_at = now()",
        [(site, check, shard, n) for (site, check), n in sorted(counts.items()) if n],
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
    """Forget every stored input offset (the broker's topics were recreated from scratch).

    The broker epoch moves on, so dead letters at reused offsets are new rows.
    """
    session.execute(text("DELETE FROM stream_offsets"))
    session.execute(text("UPDATE broker_epoch SET epoch = epoch + 1"))


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


def saved_site_ids(session: Session, stage: str) -> list[str]:
    """Every site a stage has saved a state for."""
    query = select(SiteState.site_id).where(SiteState.stage == stage)
    return list(session.execute(query).scalars())


def save_site_states(session: Session, stage: str, states: Mapping[str, Any]) -> None:
    """Save (replace) the state of the given sites."""
    stage_rows(
        session,
        "staged_site_state",
        "stage text, site_id text, state jsonb",
        [(stage, site_id, _json(state)) for site_id, state in sorted(states.items())],
        "INSERT INTO site_state (stage, site_id, state) SELECT stage, site_id, state "
        "FROM staged_site_state ON CONFLICT (stage, site_id) "
        "DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
    )


def _numpy_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save {type(value).__name__} in JSON")


_encode = msgspec.json.Encoder(enc_hook=_numpy_scalar).encode


def _json(state: Any) -> str:
    """``state`` as JSON text (numpy scalars as plain numbers)."""
    return _encode(state).decode()


def save_offsets(session: Session, stage: str, offsets: Mapping[tuple[str, int], int]) -> None:
    """Record the last input offset whose effects this transaction commits."""
    execute_batch(
        session,
        'INSERT INTO stream_offsets (stage, topic, "partition", "offset") VALUES %s '
        'ON CONFLICT (stage, topic, "partition") DO UPDATE SET '
        '"offset" = GREATEST(stream_offsets."offset", EXCLUDED."offset")',
        [(stage, t, p, o) for (t, p), o in sorted(offsets.items())],
    )
