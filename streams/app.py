"""The Faust app: consumer tasks that feed message batches to the stage handlers.

Each stage group reads its input topics through one :class:`streams.consumer.GroupConsumer`
(plain batches of records, no event per message) in a Faust task; a batch goes topic by
topic to the :mod:`streams.executor` (one transaction per batch, outputs delivered
before the commit, the error policy of :mod:`streams.policy`), then its offsets are
committed to Kafka; :mod:`streams.rebalance` keeps the stages' memory and the worker's
report in step with the partitions it holds. Faust runs the tasks, the timers (the alert
stage's watchdog runs through the same executor, with no input) and the producer.
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
from faust.app.base import BootStrategy

from gridbrain.settings import Settings
from gridbrain.storage.db import make_engine, make_sessionmaker
from gridbrain.storage.transaction import InputPosition
from gridbrain.streams.alerting import AlertingStage
from gridbrain.streams.cleaning import CleaningStage
from gridbrain.streams.consumer import GroupConsumer, Record, byte_chunks
from gridbrain.streams.dispatching import DispatchingStage
from gridbrain.streams.envelope import Emission, RawMessage
from gridbrain.streams.executor import BatchExecutor, Handler, StageGroup
from gridbrain.streams.forecasting import ForecastingStage
from gridbrain.streams.health import WorkerHealth
from gridbrain.streams.kafka_security import KafkaSecurity
from gridbrain.streams.rebalance import Holdings
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

Role = Literal["clean", "forecast", "alert", "dispatch"]
ROLES: tuple[Role, ...] = ("clean", "forecast", "alert", "dispatch")


def _raw(record: Record) -> RawMessage:
    return RawMessage(
        InputPosition(record.topic, record.partition, record.offset),
        record.key,
        record.value or b"",
    )


def _scratch_dir() -> str:
    """A private, always writable directory for Faust's files, removed at exit.

    Faust's stores are in memory here; the working directory may be read-only (the image).
    """
    path = tempfile.mkdtemp(prefix="gridbrain-faust-")
    atexit.register(shutil.rmtree, path, True)
    return path


class _Boot(BootStrategy):
    """Faust runs the tasks, the timers and the producer; the consumers are our own."""

    enable_kafka_consumer = False


class _App(faust.App):
    BootStrategy = _Boot


def group_id(app_id: str, roles: tuple[str, ...]) -> str:
    """The Faust app id of workers running ``roles``, prefix of their consumer groups.

    Each stage group of a worker reads its topics in the consumer group
    ``<id>.<stage group>``. Workers of one id must run the same stages, so each set of
    roles gets its own id; workers started with the same roles share the groups and split
    the partitions.

    >>> group_id("gridbrain", ROLES), group_id("gridbrain", ("forecast",))
    ('gridbrain', 'gridbrain-forecast')
    """
    chosen = [r for r in ROLES if r in roles]
    return app_id if chosen == list(ROLES) else "-".join([app_id, *chosen])


def build_app(
    settings: Settings,
    kafka_bootstrap: str,
    database_url: str,
    roles: tuple[Role, ...] = ROLES,
    metrics_port: int | None = None,
    security: KafkaSecurity | None = None,
) -> faust.App:
    """A Faust app running the stages of ``roles``, writing to ``database_url``.

    ``metrics_port`` is where the worker serves its metrics (reported with its state).
    ``security``: TLS/SASL options of every Kafka client of the worker (its consumers and
    Faust's producer); None = the settings' (``KafkaSecurity.from_settings``).
    """
    members = group_id(settings.app_id, roles)
    if security is None:
        security = KafkaSecurity.from_settings(settings)
    app = _App(
        members,
        broker=f"kafka://{kafka_bootstrap}",
        store="memory://",
        datadir=_scratch_dir(),
        web_enabled=False,
        topic_allow_declare=False,  # topics are created by `gridbrain init` / `up`
        broker_credentials=security.faust_credentials(),
    )
    sessions = make_sessionmaker(make_engine(database_url))

    health = WorkerHealth(",".join(r for r in ROLES if r in roles), metrics_port)

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

    def group(name: str, reset: Callable[[], None]) -> StageGroup:
        return StageGroup(name, reset, ThreadPoolExecutor(1, thread_name_prefix=name))

    holdings = Holdings(health)
    consumers: dict[str, GroupConsumer] = {}

    def reader(
        stages: StageGroup, routes: dict[str, tuple[str, Handler]], batch_max: int, within: float
    ) -> None:
        """Consume the topics of ``routes`` (topic -> stage, handler) in batches."""
        name = stages.name
        consumer = GroupConsumer(
            kafka_bootstrap,
            f"{members}.{name}",
            list(routes),
            partial(holdings.assigned, stages),
            settings.session_timeout_s,
            settings.batch_max_bytes,
            security,
        )
        consumers[name] = consumer

        async def consume() -> None:
            await consumer.start()
            try:
                while True:
                    records = await consumer.take(batch_max, within)
                    for topic, (stage, handler) in routes.items():
                        mine = [r for r in records if r.topic == topic]
                        for chunk in byte_chunks(mine, settings.batch_max_bytes):
                            raw = [_raw(r) for r in chunk]
                            await executor.run(stages, stage, raw, handler)
                    await consumer.commit(records)
            except asyncio.CancelledError:
                raise
            except BaseException:
                # The executor handles every failure of a batch; this is a bug in the loop.
                _log.exception("stage group %s: its consumer failed; exiting", name)
                executor.stop()
            finally:
                await consumer.stop()

        consume.__name__ = consume.__qualname__ = f"consume-{name}"
        app.task(consume, traced=False)

    if "clean" in roles:
        weather = WeatherStage(settings)
        cleaning = CleaningStage(settings, weather, lambda: partition_count(SENSOR_READINGS))
        reader(
            group("clean", cleaning.reset),
            {
                SENSOR_READINGS: ("clean", cleaning.handle_readings),
                REROUTED: ("clean", cleaning.handle_readings),
                WEATHER_OBSERVATIONS: ("weather", weather.handle_observations),
                WEATHER_FORECASTS: ("weather_forecast", weather.handle_forecasts),
            },
            settings.ingest_batch_max,
            settings.ingest_batch_within_s,
        )
    if "forecast" in roles:
        forecasting = ForecastingStage(settings)
        reader(
            group("forecast", forecasting.reset),
            {FUSED: ("forecast", forecasting.handle)},
            settings.forecast_batch_max,
            settings.forecast_batch_within_s,
        )
    if "alert" in roles:
        alerting = AlertingStage(settings)
        alerts = group("alert", alerting.reset)
        reader(
            alerts,
            {
                FUSED: ("alert", alerting.handle_fused),
                FORECASTS: ("alert", alerting.handle_forecasts),
                DEADLETTER: ("alert", alerting.handle_dead_letters),
            },
            settings.forecast_batch_max,
            settings.forecast_batch_within_s,
        )

        @app.timer(settings.alert_watchdog_s, name="alert-watchdog")
        async def watchdog() -> None:
            """Judge the silent live sites of this worker's fused partitions."""
            held = consumers["alert"].assignment()
            assigned = {p for topic, p in held if topic == FUSED}
            count = consumers["alert"].partition_count(FUSED)
            if assigned and count:
                work = partial(alerting.handle_tick, partitions=assigned, count=count)
                await executor.tick(alerts, "alert", {(FUSED, p) for p in assigned}, work)

    if "dispatch" in roles:
        dispatching = DispatchingStage(settings)
        reader(
            group("dispatch", dispatching.reset),
            {FORECASTS: ("dispatch", dispatching.handle)},
            settings.forecast_batch_max,
            settings.forecast_batch_within_s,
        )

    def partition_count(topic: str) -> int | None:
        return consumers["clean"].partition_count(topic)

    reports = ThreadPoolExecutor(1, thread_name_prefix="report")

    @app.timer(settings.worker_report_s, name="worker-report")
    async def report() -> None:
        """Save this worker's partitions, state and fault counters (``gridbrain status``)."""
        await asyncio.get_running_loop().run_in_executor(reports, health.report, sessions)

    return app
