"""The Faust app: consumer tasks that feed message batches to the stage handlers.

Each input topic is a :class:`streams.batches.BatchTopic` (Faust's consumer, group and
flow control, without an event per message); its task takes a batch of messages and hands
it to the :mod:`streams.executor` (one transaction per batch, outputs delivered before
the commit, the error policy of :mod:`streams.policy`), then acks the messages so Faust
commits their offsets; :mod:`streams.rebalance` keeps the stages' memory and the
worker's report in step with the partitions it holds. The alert stage's watchdog timer
runs through the same executor, with no input.
"""

import asyncio
import atexit
import logging
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Literal

import faust
from faust.types import Message

from gridbrain.settings import Settings
from gridbrain.storage.db import make_engine, make_sessionmaker
from gridbrain.storage.transaction import InputPosition
from gridbrain.streams.alerting import AlertingStage
from gridbrain.streams.batches import BatchTopic, take
from gridbrain.streams.cleaning import CleaningStage
from gridbrain.streams.envelope import Emission, RawMessage
from gridbrain.streams.executor import BatchExecutor, Handler, StageGroup
from gridbrain.streams.forecasting import ForecastingStage
from gridbrain.streams.health import WorkerHealth
from gridbrain.streams.rebalance import follow_rebalances
from gridbrain.streams.topics import (
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

_log = logging.getLogger(__name__)
#: Messages a topic's buffer holds while a batch runs (the consumer pauses beyond).
_BUFFERED = 4096

Role = Literal["clean", "forecast", "alert"]
ROLES: tuple[Role, ...] = ("clean", "forecast", "alert")


def _raw(message: Message) -> RawMessage:
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

    health = WorkerHealth(",".join(r for r in ROLES if r in roles))

    async def publish(emissions: list[Emission]) -> None:
        """Send every emission, then wait until the broker has them all.

        Straight to the producer: the stages encode their own bytes, and Faust's
        per-send machinery would cost more than the send.
        """
        producer = app.producer
        pending = [
            await producer.send(e.topic, e.key, e.value, e.partition, None, None) for e in emissions
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
        topic = BatchTopic(
            app,
            topics=[topic_name],
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            maxsize=_BUFFERED,
        )
        app.topics.add(topic)

        async def consume() -> None:
            try:
                while True:
                    messages = await take(topic, batch_max, within, settings.batch_max_bytes)
                    await executor.run(stages, stage, [_raw(m) for m in messages], handler)
                    for message in messages:  # Faust may now commit their offsets
                        message.ack(app.consumer)
            except asyncio.CancelledError:
                raise
            except BaseException:
                # The executor handles every failure of a batch; this is a bug in the loop.
                _log.exception("stage %s: the %s consumer failed; exiting", stage, topic_name)
                executor.stop()

        consume.__name__ = consume.__qualname__ = f"{stage}-{topic_name}"
        app.task(consume, traced=False)

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
