"""SQLAlchemy 2.0 typed models of every Gridbrain table."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Alert",
    "AlertHistory",
    "BandTracker",
    "Base",
    "BatchFailure",
    "BrokerEpoch",
    "DeadLetter",
    "ForecastIssue",
    "ForecastLatest",
    "QualityCount",
    "Reading",
    "RegisteredModel",
    "Silence",
    "Site",
    "SiteState",
    "StageCount",
    "StreamOffset",
    "WeatherForecast",
    "WeatherObservation",
    "Worker",
]

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    """Declarative base with a naming convention for constraints."""

    metadata = MetaData(naming_convention=_NAMING)


class Site(Base):
    """A site: a PV plant, a wind turbine or farm, a feeder, or an air-quality monitor."""

    __tablename__ = "sites"
    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(32))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    capacity_kw: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str | None] = mapped_column(String(64))
    holidays: Mapped[str | None] = mapped_column(String(32))
    weather_station: Mapped[str | None] = mapped_column(String(128))
    quality: Mapped[dict[str, dict[str, object]] | None] = mapped_column(JSONB)
    dispatch: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Reading(Base):
    """The clean, resampled series: the mean of each quantity per site and step.

    ``quality`` is ``ok`` (every reading passed the checks), ``cleaned`` (``n_flagged``
    readings were left out of the mean), ``flagged`` (all were: ``value`` is NULL) or
    ``interpolated`` (no reading; filled from its neighbours across a short gap).
    """

    __tablename__ = "readings"
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.site_id"), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    value_sum: Mapped[float] = mapped_column(Float)
    n_samples: Mapped[int] = mapped_column(Integer)
    n_flagged: Mapped[int] = mapped_column(Integer, server_default="0")
    quality: Mapped[str] = mapped_column(String(16))


class WeatherObservation(Base):
    """Weather observations per site, as received (validated)."""

    __tablename__ = "weather_observations"
    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ts: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    variables: Mapped[dict[str, float]] = mapped_column(JSONB)
    description: Mapped[str | None] = mapped_column(Text)


class WeatherForecast(Base):
    """Weather forecasts per site or station: one row per issue time and valid time."""

    __tablename__ = "weather_forecasts"
    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    valid_at: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    variables: Mapped[dict[str, float]] = mapped_column(JSONB)
    description: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_weather_forecasts_valid", "site_id", "valid_at", "issued_at"),)


class ForecastIssue(Base):
    """Multi-horizon quantile forecasts: one row per series, issue time and model.

    ``p10``/``p50``/``p90`` hold one value per target, the ``h``-th (from 0) at
    ``first_target + h * step_ms``. The view ``forecasts`` (migration 0008) shows the
    same data one row per target, for SQL users and the older queries.
    """

    __tablename__ = "forecast_issues"
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.site_id"), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(32), primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(80))
    first_target: Mapped[datetime] = mapped_column(Timestamp)
    step_ms: Mapped[int] = mapped_column(Integer)
    p10: Mapped[list[float]] = mapped_column(ARRAY(Float))
    p50: Mapped[list[float]] = mapped_column(ARRAY(Float))
    p90: Mapped[list[float]] = mapped_column(ARRAY(Float))
    completeness: Mapped[float | None] = mapped_column(Float)
    fallback: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class BandTracker(Base):
    """A served band's online shifts (window scales) and the newest issue it counted."""

    __tablename__ = "band_trackers"
    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    through: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class ForecastLatest(Base):
    """The newest issue time of every forecast series, kept by the forecast writer."""

    __tablename__ = "forecast_latest"
    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(32), primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(Timestamp)


class ScheduleStep(Base):
    """One step of a dispatch plan (kW; ``soc`` at the step's end as a share of capacity).

    ``price`` / ``export_price`` are the prices the plan was made on (EUR/kWh); the
    plan's ``objective``, ``status``, ``reason`` and ``solve_s`` repeat on its rows.
    """

    __tablename__ = "schedules"
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.site_id"), primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    ts: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    charge_kw: Mapped[float] = mapped_column(Float)
    discharge_kw: Mapped[float] = mapped_column(Float)
    soc: Mapped[float] = mapped_column(Float)
    grid_import_kw: Mapped[float] = mapped_column(Float)
    grid_export_kw: Mapped[float] = mapped_column(Float)
    curtail_kw: Mapped[float] = mapped_column(Float)
    load_kw: Mapped[float] = mapped_column(Float)
    pv_kw: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    export_price: Mapped[float] = mapped_column(Float)
    policy: Mapped[str] = mapped_column(String(32))
    objective: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    solve_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Alert(Base):
    """An alert incident (one per dedup key and start), updated in place as it changes.

    ``state`` is pending or firing while open, inactive (a pending breach that ended
    before ``for``) or resolved once closed. ``value`` is the last value evaluated (NULL:
    no data), ``peak`` the worst; ``notified`` the last state sent to the receivers.
    """

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(Text)
    labels: Mapped[dict[str, str]] = mapped_column(JSONB)
    site_id: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    fired_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    expected_at: Mapped[datetime | None] = mapped_column(Timestamp)
    value: Mapped[float | None] = mapped_column(Float)
    peak: Mapped[float] = mapped_column(Float)
    no_data: Mapped[bool] = mapped_column(Boolean, server_default="false")
    silenced: Mapped[bool] = mapped_column(Boolean, server_default="false")
    inhibited: Mapped[bool] = mapped_column(Boolean, server_default="false")
    notified: Mapped[str | None] = mapped_column(String(16))
    last_notified_at: Mapped[datetime | None] = mapped_column(Timestamp)
    message: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    __table_args__ = (
        UniqueConstraint("dedup_key", "started_at"),
        Index("ix_alerts_state", "state", "started_at"),
    )


class AlertHistory(Base):
    """Every state change of an incident (its key and start), with the reason."""

    __tablename__ = "alert_history"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(Timestamp)
    value: Mapped[float | None] = mapped_column(Float)
    notified: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    __table_args__ = (UniqueConstraint("dedup_key", "started_at", "at", "reason"),)


class Silence(Base):
    """Mutes notifications of incidents matching every matcher between the two times."""

    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    matchers: Mapped[list[str]] = mapped_column(JSONB)
    starts_at: Mapped[datetime] = mapped_column(Timestamp)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    created_by: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class DeadLetter(Base):
    """A rejected message or item, with the reason and the original payload.

    ``payload`` is readable text (control characters escaped); ``payload_bytes`` holds the
    exact bytes of a whole message that was not valid JSON text. ``epoch`` is the broker
    epoch the offset belongs to (see :class:`BrokerEpoch`).
    """

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(128))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    item_index: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    payload_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)
    epoch: Mapped[int] = mapped_column(Integer, server_default="0")
    received_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    __table_args__ = (UniqueConstraint("epoch", "topic", "partition", "offset", "item_index"),)


class StageCount(Base):
    """Running counters per stage and topic (received, processed, duplicates, ...).

    A counter is split into shards (the smallest input partition of the batch that added
    to it), so workers holding different partitions never wait on each other's rows;
    readers sum the shards.
    """

    __tablename__ = "stage_counts"
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    topic: Mapped[str] = mapped_column(String(128), primary_key=True)
    counter: Mapped[str] = mapped_column(String(32), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, server_default="0")
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class SiteState(Base):
    """A stage's in-memory state of one site, saved with each batch so a restart resumes."""

    __tablename__ = "site_state"
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[dict[str, object]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class QualityCount(Base):
    """How many readings of a site each check passed, dropped or flagged."""

    __tablename__ = "quality_counts"
    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    check: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, server_default="0")
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class BrokerEpoch(Base):
    """How many times the broker's offsets started again from 0 (embedded broker restarts).

    One row. Dead letters carry it, so a new message at a reused offset is a new row.
    """

    __tablename__ = "broker_epoch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer)


class Worker(Base):
    """A stream worker's last report: its partitions, state and fault counters."""

    __tablename__ = "workers"
    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    roles: Mapped[str] = mapped_column(String(64))
    partitions: Mapped[list[list[object]]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, server_default="")
    retries: Mapped[int] = mapped_column(BigInteger, server_default="0")
    quarantined: Mapped[int] = mapped_column(BigInteger, server_default="0")
    metrics_port: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class BatchFailure(Base):
    """How often a stage failed on one input message with an error that is not an outage.

    After ``quarantine_after`` failures the message is quarantined (dead-lettered whole).
    """

    __tablename__ = "batch_failures"
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    topic: Mapped[str] = mapped_column(String(128), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class StreamOffset(Base):
    """The last input offset whose effects are committed, per consumer stage and partition."""

    __tablename__ = "stream_offsets"
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    topic: Mapped[str] = mapped_column(String(128), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger)


class RegisteredModel(Base):
    """A trained model version: its artifact, back-test metrics and promotion status.

    ``status`` is ``candidate`` (registered, not better than the promoted one),
    ``promoted`` (serving; at most one per quantity and site group) or ``retired``.
    ``sites`` is the site group it serves (None: every site).
    """

    __tablename__ = "models"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    sites: Mapped[list[str] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[dict[str, object]] = mapped_column(JSONB)
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    promoted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    __table_args__ = (
        UniqueConstraint("name", "version"),
        Index("ix_models_promoted", "quantity", "status"),
    )
