"""The Faust app: agents that feed message batches to the stage handlers.

Every agent follows one pattern: take a batch of events, run the stage handler off the
event loop (in the stage's single thread, inside one database transaction), publish what
the handler emitted and wait for delivery, then commit. An exception in a handler is a
bug or an outage, not bad input (bad input is dead-lettered by the handlers): the agent
exits the worker process (code 70), and the uncommitted batch is redelivered to the next
one. Effects in the database are exactly-once (offsets commit with them); outputs are
at-least-once. The alert stage's watchdog timer runs the same way, with no input.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Literal, Protocol, cast

import faust
from faust.types import EventT, StreamT

from gridbrain.settings import Settings
from storage.db import make_engine, make_sessionmaker
from storage.transaction import BatchTransaction, InputPosition, prepare_batch
from streams.alerting import AlertingStage
from streams.cleaning import CleaningStage
from streams.envelope import Emission, RawMessage
from streams.forecasting import ForecastingStage
from streams.topics import (
    ALERTS,
    DEADLETTER,
    FORECASTS,
    FUSED,
    SENSOR_READINGS,
    WEATHER_FORECASTS,
    WEATHER_OBSERVATIONS,
)
from streams.weather import WeatherStage

__all__ = ["EXIT_STAGE_FAILED", "ROLES", "Role", "build_app", "group_id"]

#: Exit code of a worker whose stage failed on a batch (EX_SOFTWARE).
EXIT_STAGE_FAILED = 70
_log = logging.getLogger(__name__)

Role = Literal["clean", "forecast", "alert"]
ROLES: tuple[Role, ...] = ("clean", "forecast", "alert")


class Handler(Protocol):
    """A stage's batch handler."""

    def __call__(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]: ...


def _raw(event: EventT) -> RawMessage:
    message = event.message
    key = message.key if isinstance(message.key, bytes) or message.key is None else None
    return RawMessage(
        InputPosition(message.topic, message.partition, message.offset),
        key,
        message.value or b"",
    )


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

    outputs = {name: raw_topic(name) for name in (FUSED, FORECASTS, ALERTS, DEADLETTER)}

    async def execute(
        stage: str,
        pool: ThreadPoolExecutor,
        partitions: set[tuple[str, int]],
        work: Callable[[BatchTransaction], list[Emission]],
    ) -> None:
        """Run ``work`` in one transaction in ``pool``, publish what it emitted, commit."""
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(
            pool, prepare_batch, sessions, stage, partitions, work
        )
        try:
            # Deliver the outputs before committing: a crash in between redelivers the
            # batch (duplicate outputs) instead of losing its outputs.
            pending = [
                await outputs[e.topic].send(key=e.key, value=e.value) for e in prepared.result
            ]
            await asyncio.gather(*pending)
        except BaseException:
            await loop.run_in_executor(pool, prepared.rollback)
            raise
        await loop.run_in_executor(pool, prepared.commit)

    async def guarded(
        stage: str,
        pool: ThreadPoolExecutor,
        partitions: set[tuple[str, int]],
        work: Callable[[BatchTransaction], list[Emission]],
        reset: Callable[[], None],
        exclusive: asyncio.Lock | None,
    ) -> None:
        """:func:`execute` one at a time per ``exclusive`` lock, with the error policy.

        Work given the same ``exclusive`` lock runs one batch at a time from prepare to
        commit: it writes the same rows (one stage's counters and site state), and a
        second transaction waiting on the first one's locks in the shared thread would
        stop that thread from ever committing the first.
        """
        try:
            async with exclusive or contextlib.nullcontext():
                await execute(stage, pool, partitions, work)
        except Exception:
            # A bug or an outage. Faust would restart the agent alone, and its partitions
            # would then stall; exit instead, so the supervisor (``up`` reports it, compose
            # restarts it) starts a clean worker that resumes from the committed offsets.
            _log.exception("stage %s failed on a batch; the worker exits", stage)
            logging.shutdown()
            os._exit(EXIT_STAGE_FAILED)
        except BaseException:
            # Cancelled (shutdown, rebalance): the stage's memory ran ahead of what was
            # committed; forget it, it is reloaded from the database.
            await asyncio.get_running_loop().run_in_executor(pool, reset)
            raise

    def agent(
        stage: str,
        topic_name: str,
        handler: Handler,
        reset: Callable[[], None],
        pool: ThreadPoolExecutor,
        batch_max: int,
        within: float,
        exclusive: asyncio.Lock | None = None,
    ) -> None:
        """Consume ``topic_name`` in batches through ``handler`` (see :func:`guarded`)."""

        async def consume(stream: StreamT[bytes]) -> None:
            batches = cast("faust.Stream[bytes]", stream).take_events(batch_max, within=within)
            async for events in batches:
                messages = [_raw(e) for e in events]
                partitions = {(m.position.topic, m.position.partition) for m in messages}
                work = partial(handler, messages=messages)
                await guarded(stage, pool, partitions, work, reset, exclusive)

        app.agent(raw_topic(topic_name), name=f"{stage}-{topic_name}")(consume)

    if "clean" in roles:
        weather = WeatherStage(settings)
        cleaning = CleaningStage(settings, weather)
        pool = ThreadPoolExecutor(1, thread_name_prefix="clean")
        within = settings.ingest_batch_within_s
        agent(
            "clean",
            SENSOR_READINGS,
            cleaning.handle_readings,
            cleaning.reset,
            pool,
            settings.ingest_batch_max,
            within,
        )
        for stage, topic, handler in (
            ("weather", WEATHER_OBSERVATIONS, weather.handle_observations),
            ("weather_forecast", WEATHER_FORECASTS, weather.handle_forecasts),
        ):
            agent(stage, topic, handler, cleaning.reset, pool, settings.ingest_batch_max, within)
    if "forecast" in roles:
        forecasting = ForecastingStage(settings)
        agent(
            "forecast",
            FUSED,
            forecasting.handle,
            forecasting.reset,
            ThreadPoolExecutor(1, thread_name_prefix="forecast"),
            settings.forecast_batch_max,
            settings.forecast_batch_within_s,
        )
    if "alert" in roles:
        alerting = AlertingStage(settings)
        pool = ThreadPoolExecutor(1, thread_name_prefix="alert")
        exclusive = asyncio.Lock()
        for topic, handler in (
            (FUSED, alerting.handle_fused),
            (FORECASTS, alerting.handle_forecasts),
            (DEADLETTER, alerting.handle_dead_letters),
        ):
            agent(
                "alert",
                topic,
                handler,
                alerting.reset,
                pool,
                settings.forecast_batch_max,
                settings.forecast_batch_within_s,
                exclusive,
            )

        @app.timer(settings.alert_watchdog_s, name="alert-watchdog")
        async def watchdog() -> None:
            """Judge the silent live sites of this worker's fused partitions."""
            assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == FUSED}
            count = app.consumer.topic_partitions(FUSED)
            if assigned and count:
                work = partial(alerting.handle_tick, partitions=assigned, count=count)
                locks = {(FUSED, p) for p in assigned}
                await guarded("alert", pool, locks, work, alerting.reset, exclusive)

    return app
