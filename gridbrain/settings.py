"""The one settings object, built at the entry point and passed down.

Every field reads from an environment variable with the ``GRIDBRAIN_`` prefix, e.g.
``GRIDBRAIN_STATE_DIR`` or ``GRIDBRAIN_KAFKA_BOOTSTRAP``.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Gridbrain's configuration (frozen; build it once with ``Settings()``)."""

    model_config = SettingsConfigDict(env_prefix="GRIDBRAIN_", frozen=True, extra="ignore")

    state_dir: Path = Field(
        default=Path(".gridbrain"),
        description="Where the embedded broker and database keep their files.",
    )
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Bootstrap servers of an external Kafka; unset = start the embedded broker.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of an external Postgres; unset = embedded PostgreSQL.",
    )
    embedded_kafka_port: int = Field(default=19092, description="Port of the embedded broker.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How every Kafka client connects (Faust/aiokafka, kafka-python, producer).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle (PEM) the broker's certificate is checked against."
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="Private key (PEM) of the client certificate."
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Check that the broker's certificate names its host."
    )
    partitions: int = Field(default=4, ge=1, description="Partitions of the input topics.")
    replication_factor: int = Field(default=1, ge=1, description="Replication of new topics.")
    app_id: str = Field(default="gridbrain", description="Faust app id = consumer group.")
    session_timeout_s: float = Field(
        default=10.0, description="Consumer session timeout (Tansu joins after ~half of it)."
    )
    step_minutes: int = Field(default=15, ge=1, description="Resampling step of clean series.")
    allowed_lateness_minutes: int = Field(
        default=5, ge=0, description="A step closes this long after its end (event time)."
    )
    max_future_minutes: int = Field(
        default=10, ge=0, description="Readings further than this in the future are rejected."
    )
    weather_staleness_minutes: int = Field(
        default=120, ge=1, description="Weather older than this is not fused with a step."
    )
    nearest_station_max_km: float = Field(
        default=50.0, gt=0, description="A site without a named station takes the nearest within."
    )
    horizon_hours: int = Field(default=24, ge=1, description="Forecast horizon.")
    forecast_interval_minutes: int = Field(
        default=60, ge=1, description="Event-time interval between forecasts of one series."
    )
    history_days: int = Field(default=7, ge=1, description="History a model is fitted on.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Torch device for forecasting; auto = cuda when present."
    )
    torch_threads: int = Field(
        default=1,
        ge=1,
        description="CPU threads torch may use in a worker (cores left to streams).",
    )
    ingest_batch_max: int = Field(default=20_000, ge=1, description="Messages per ingest batch.")
    batch_max_bytes: int = Field(
        default=4 << 20, ge=1, description="Bytes of input per batch, at most (any stage)."
    )
    ingest_batch_within_s: float = Field(default=0.5, gt=0, description="Max ingest batch wait.")
    forecast_batch_max: int = Field(default=512, ge=1, description="Fused steps per micro-batch.")
    forecast_batch_within_s: float = Field(
        default=1.0, gt=0, description="Max wait to fill a forecast micro-batch."
    )
    forecast_latency_budget_s: float = Field(
        default=0.5, gt=0, description="A model call is sized to take about this long."
    )
    band_rate: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Step per day of the p10-p90 band tracking, in window scales (0: off).",
    )
    dispatch_time_limit_s: float = Field(
        default=10.0, gt=0, description="Longest a dispatch solve may take (then: idle plan)."
    )
    dispatch_mip_gap: float = Field(
        default=1e-3, ge=0, description="Relative MIP gap accepted when binaries are needed."
    )
    model_refresh_s: float = Field(
        default=30.0, gt=0, description="How often forecasters check the registry for promotions."
    )
    alert_rules_file: Path | None = Field(
        default=None, description="Alert rules YAML; unset = the built-in rules."
    )
    alert_webhook_url: SecretStr | None = Field(
        default=None, description="Alert notifications are POSTed here as JSON (unset: off)."
    )
    alert_webhook_retries: int = Field(default=5, ge=0, description="Webhook retries.")
    alert_webhook_backoff_s: float = Field(
        default=0.5, gt=0, description="Wait before the first webhook retry (then doubled)."
    )
    silence_refresh_s: float = Field(
        default=5.0, gt=0, description="How often the alert stage re-reads the silences."
    )
    alert_watchdog_s: float = Field(
        default=60.0, gt=0, description="How often the alert stage judges silent live sites."
    )
    alert_live_lag_s: float = Field(
        default=21_600.0,
        gt=0,
        description="A site whose newest step arrived within this of its event time is live: "
        "while it is silent, its staleness runs on with the wall clock.",
    )
    retention_readings_days: int = Field(
        default=0,
        ge=0,
        description="`gridbrain retention` deletes clean readings older than this many days "
        "(by event time); 0 = keep forever.",
    )
    retention_forecasts_days: int = Field(
        default=30,
        ge=0,
        description="Forecasts issued longer ago than this many days are deleted; 0 = keep.",
    )
    retention_dead_letters_days: int = Field(
        default=30,
        ge=0,
        description="Dead letters received longer ago than this many days are deleted; 0 = keep.",
    )
    retention_alert_history_days: int = Field(
        default=90,
        ge=0,
        description="Alert state changes older than this many days are deleted (never those "
        "of open incidents); 0 = keep.",
    )
    retention_batch_rows: int = Field(
        default=10_000,
        ge=1,
        description="Rows retention deletes per short transaction.",
    )
    topic_retention_hours: int = Field(
        default=0,
        ge=0,
        description="retention.ms of the topics Gridbrain creates, in hours; 0 = keep forever.",
    )
    shared_data_dir: Path = Field(
        default=Path("../shared/data"),
        description="The public data sets (benchmarks, evaluations, integration tests).",
    )
    site_policy: Literal["auto", "registered"] = Field(
        default="auto",
        description="Sites whose readings the clean stage takes: auto = any (new ones within "
        "new_sites_per_hour); registered = only sites in the sites table (`gridbrain sites "
        "load`). Readings of refused sites are dead-lettered as unknown_site.",
    )
    new_sites_per_hour: int = Field(
        default=1000,
        ge=0,
        description="In auto mode, a worker takes on at most this many sites not yet in the "
        "sites table per hour (a token bucket, refilled continuously); 0 = unlimited.",
    )
    site_idle_evict_minutes: float = Field(
        default=360.0,
        gt=0,
        description="A site not met for this long (wall clock) is dropped from a worker's "
        "memory; its state is in Postgres and is reloaded when the site sends again.",
    )
    quarantine_after: int = Field(
        default=3,
        ge=1,
        description="A message a stage fails on with a bug (not an outage, not a data error) "
        "is quarantined (dead-lettered whole with the traceback) after this many failures.",
    )
    worker_report_s: float = Field(
        default=5.0, gt=0, description="How often a worker saves its report (gridbrain status)."
    )
    log_level: str = Field(default="WARNING", description="Log level of the workers.")
    metrics_port: int = Field(
        default=9100,
        ge=0,
        le=65535,
        description="Port of a worker's Prometheus /metrics (`up` gives its workers this port "
        "and the next ones); 0 = any free port (`gridbrain status` shows it).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the workers' /metrics listen on (0.0.0.0 in compose, for Prometheus).",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    api_port: int = Field(default=8080, ge=0, le=65535, description="Port of the HTTP API.")
    api_read_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for reading the API; with no token set the API serves "
        "127.0.0.1 only.",
    )
    api_write_token: SecretStr | None = Field(
        default=None, description="Bearer token for writes (silences); it may read too."
    )
    api_database_url: SecretStr | None = Field(
        default=None,
        description="Database URL of the API's own read-only login; unset = the platform's "
        "database, with the API's queries run as the role gridbrain_api.",
    )
    api_statement_timeout_ms: int = Field(
        default=5000, ge=1, description="Longest an API query may run."
    )
    api_max_body_bytes: int = Field(
        default=65_536, ge=1, description="Largest request body the API accepts."
    )
    api_rate_per_s: float = Field(
        default=50.0, gt=0, description="Requests per second per client (token bucket)."
    )
    api_rate_burst: int = Field(default=200, ge=1, description="Burst of the per-client limit.")

    @property
    def pgdata(self) -> Path:
        """Directory of the embedded PostgreSQL cluster."""
        return self.state_dir.resolve() / "pgdata"

    @property
    def step_ms(self) -> int:
        """Resampling step in milliseconds."""
        return self.step_minutes * 60_000
