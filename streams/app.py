"""The Faust app: agents that feed message batches to the stage handlers.

Each agent takes a batch of events and hands it to the :mod:`streams.executor` (one
transaction per batch, outputs delivered before the commit, the error policy of
:mod:`streams.policy`); :mod:`streams.rebalance` keeps the stages' memory and the
worker's report in step with the partitions it holds. The alert stage's watchdog timer
runs through the same executor, with no input.
"""

import asyncio
import atexit
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Literal, cast

import faust
from faust.types import EventT, StreamT

from gridbrain.settings import Settings
from gridbrain.storage.db import make_engine, make_sessionmaker
from gridbrain.storage.transaction import InputPosition
from gridbrain.streams.alerting import AlertingStage
from gridbrain.streams.cleaning import CleaningStage
from gridbrain.streams.envelope import Emission, RawMessage
from gridbrain.streams.executor import BatchExecutor, Handler, StageGroup
from gridbrain.streams.forecasting import ForecastingStage
from gridbrain.streams.health import WorkerHealth
from gridbrain.streams.rebalance import follow_rebalances
from gridbrain.streams.topics import (
    ALERTS,
    DEADLETTER,
    FORECASTS,
    FUSED,
    REROUTED,
    SENSOR_READINGS,
    WEATHER_FORECASTS,
    WEATHER_OBSERVATIONS,
)
from gridbrain.streams.weather import WeatherStage

__all__ = ["ROLES", "Role", "build_app", "group_id"]

Role = Literal["clean", "forecast", "alert"]
ROLES: tuple[Role, ...] = ("clean", "forecast", "alert")


def _raw(event: EventT) -> RawMessage:
    message = event.message
    key = message.key if isinstance(message.key, bytes) or message.key is None else None
    return RawMessage(
        InputPosition(message.topic, message.partition, message.offset),
        key,
        message.value or b"",
    )


def _scratch_dir() -> str:
    """A private, always writable directory for Faust's files, removed at exit.

    Faust's stores are in memory here; the working directory may be read-only (the image).
    """
    path = tempfile.mkdtemp(prefix="gridbrain-faust-")
    atexit.register(shutil.rmtree, path, True)
    return path


def group_id(app_id: str, roles: tuple[str, ...]) -> str:
    """The Faust app id (= consumer group) of workers running ``roles``.

    Workers of one group must run the same agents, so each set of roles gets its own
    group; workers started with the same roles share one and split the partitions.

    >>> group_id("gridbrain", ("clean", "forecast", "alert")), group_id("gridbrain", ("forecast",))
    ('gridbrain', 'gridbrain-forecast')
    """
    chosen = [r for r in ROLES if r in roles]
    return app_id if chosen == list(ROLES) else "-".join([app_id, *chosen])


def build_app(
    settings: Settings, kafka_bootstrap: str, database_url: str, roles: tuple[Role, ...] = ROLES
) -> faust.App:
    """A Faust app running the stages of ``roles``, writing to ``database_url``."""
    app = faust.App(
        group_id(settings.app_id, roles),
        broker=f"kafka://{kafka_bootstrap}",
        store="memory://",
        datadir=_scratch_dir(),
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 4),
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
    )
    sessions = make_sessionmaker(make_engine(database_url))

    def raw_topic(name: str) -> faust.TopicT:
        # Bytes in, bytes out: decoding is the stages' job, so bad input is dead-lettered.
        return app.topic(
            name, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw"
        )

    outputs = {name: raw_topic(name) for name in (REROUTED, FUSED, FORECASTS, ALERTS, DEADLETTER)}

    health = WorkerHealth(",".join(r for r in ROLES if r in roles))

    async def publish(emissions: list[Emission]) -> None:
        pending = [
            await outputs[e.topic].send(key=e.key, value=e.value, partition=e.partition)
            for e in emissions
        ]
        await asyncio.gather(*pending)

    executor = BatchExecutor(sessions, publish, health, settings.quarantine_after)
    groups: list[StageGroup] = []

    def group(name: str, reset: Callable[[], None]) -> StageGroup:
        made = StageGroup(name, reset, ThreadPoolExecutor(1, thread_name_prefix=name))
        groups.append(made)
        return made

    def agent(
        stage: str,
        topic_name: str,
        handler: Handler,
        stages: StageGroup,
        batch_max: int,
        within: float,
    ) -> None:
        """Consume ``topic_name`` in batches through ``handler`` (see :mod:`streams.executor`)."""

        async def consume(stream: StreamT[bytes]) -> None:
            batches = cast("faust.Stream[bytes]", stream).take_events(batch_max, within=within)
            async for events in batches:
                await executor.run(stages, stage, [_raw(e) for e in events], handler)

        app.agent(raw_topic(topic_name), name=f"{stage}-{topic_name}")(consume)

    if "clean" in roles:
        weather = WeatherStage(settings)
        cleaning = CleaningStage(settings, weather, lambda: partition_count(SENSOR_READINGS))
        ingest = group("clean", cleaning.reset)
        for stage, topic, handler in (
            ("clean", SENSOR_READINGS, cleaning.handle_readings),
            ("clean", REROUTED, cleaning.handle_readings),
            ("weather", WEATHER_OBSERVATIONS, weather.handle_observations),
            ("weather_forecast", WEATHER_FORECASTS, weather.handle_forecasts),
        ):
            agent(
                stage,
                topic,
                handler,
                ingest,
                settings.ingest_batch_max,
                settings.ingest_batch_within_s,
            )
    if "forecast" in roles:
        forecasting = ForecastingStage(settings)
        agent(
            "forecast",
            FUSED,
            forecasting.handle,
            group("forecast", forecasting.reset),
            settings.forecast_batch_max,
            settings.forecast_batch_within_s,
        )
    if "alert" in roles:
        alerting = AlertingStage(settings)
        alerts = group("alert", alerting.reset)
        for topic, handler in (
            (FUSED, alerting.handle_fused),
            (FORECASTS, alerting.handle_forecasts),
            (DEADLETTER, alerting.handle_dead_letters),
        ):
            agent(
                "alert",
                topic,
                handler,
                alerts,
                settings.forecast_batch_max,
                settings.forecast_batch_within_s,
            )

        @app.timer(settings.alert_watchdog_s, name="alert-watchdog")
        async def watchdog() -> None:
            """Judge the silent live sites of this worker's fused partitions."""
            assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == FUSED}
            count = partition_count(FUSED)
            if assigned and count:
                work = partial(alerting.handle_tick, partitions=assigned, count=count)
                await executor.tick(alerts, "alert", {(FUSED, p) for p in assigned}, work)

    def partition_count(topic: str) -> int | None:
        return app.consumer.topic_partitions(topic)

    follow_rebalances(app, groups, health)
    reports = ThreadPoolExecutor(1, thread_name_prefix="report")

    @app.timer(settings.worker_report_s, name="worker-report")
    async def report() -> None:
        """Save this worker's partitions, state and fault counters (``gridbrain status``)."""
        await asyncio.get_running_loop().run_in_executor(reports, health.report, sessions)

    return app
