"""Weather stage: validate and store observations and forecasts; serve them to fusion."""

import time
from collections.abc import Callable
from typing import Any, TypeVar

from gridbrain.processors.fuse import ForecastAsOf, WeatherAsOf
from gridbrain.processors.validate import Rejection
from gridbrain.processors.weather import validate_weather, validate_weather_forecasts
from gridbrain.settings import Settings
from gridbrain.storage.transaction import BatchTransaction
from gridbrain.storage.weather import (
    add_weather,
    add_weather_forecasts,
    forecasts_between,
    weather_between,
)
from gridbrain.streams.envelope import (
    DeadLetters,
    Emission,
    RawMessage,
    new_items,
    record_rejections,
)

__all__ = ["WeatherStage"]

_T = TypeVar("_T")


class WeatherStage:
    """Keeps recent observed and forecast weather per station for as-of joins.

    Memory is a cache of the ``weather_observations`` and ``weather_forecasts`` tables:
    when a closing step finds no weather for its station in memory (after a restart, for
    a station whose messages another worker's partitions carry, or weather replayed far
    ahead of the readings), the cleaning stage reads it from the database with :meth:`load`.
    """

    def __init__(self, settings: Settings) -> None:
        self._staleness_ms = settings.weather_staleness_minutes * 60_000
        self._max_future_ms = settings.max_future_minutes * 60_000
        self.reset()

    def reset(self) -> None:
        """Forget the cache."""
        self.observed = WeatherAsOf(self._staleness_ms)
        self.forecast = ForecastAsOf(self._staleness_ms)

    def load(
        self, tx: BatchTransaction, windows: dict[str, tuple[int, int]]
    ) -> tuple[WeatherAsOf, ForecastAsOf]:
        """Stored weather of stations, station -> (start, end) in ms, in stores of their own.

        They are not merged into the caches: a replay's weather can run years ahead of its
        readings, and the caches keep only the newest hours of each station.
        """
        observed = WeatherAsOf(self._staleness_ms, bounded=False)
        forecast = ForecastAsOf(self._staleness_ms, bounded=False)
        padded = {s: (lo - self._staleness_ms, hi) for s, (lo, hi) in windows.items()}
        for observation in weather_between(tx.session, padded):
            observed.add(observation)
        for item in forecasts_between(tx.session, padded):
            forecast.add(item)
        return observed, forecast

    def handle_observations(
        self, tx: BatchTransaction, messages: list[RawMessage]
    ) -> list[Emission]:
        """Validate, cache and store a batch of ``weather.observations`` messages."""
        accepted, dead = self._validate(tx, messages, validate_weather, "weather_")
        for observation in accepted:
            self.observed.add(observation)
        add_weather(tx.session, accepted)
        return dead.store(tx.session)

    def handle_forecasts(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Validate, cache and store a batch of ``weather.forecasts`` messages."""
        accepted, dead = self._validate(tx, messages, validate_weather_forecasts, "forecast_")
        for forecast in accepted:
            self.forecast.add(forecast)
        add_weather_forecasts(tx.session, accepted)
        return dead.store(tx.session)

    def _validate(
        self,
        tx: BatchTransaction,
        messages: list[RawMessage],
        validate: Callable[[list[Any], int, int], tuple[list[_T], list[Rejection]]],
        prefix: str,
    ) -> tuple[list[_T], DeadLetters]:
        """The valid items of new messages; the rest dead-lettered and counted."""
        now_ms = int(time.time() * 1000)
        dead = DeadLetters()
        accepted: list[_T] = []
        for message, items in new_items(tx, messages, dead, prefix):
            valid, rejections = validate(items, now_ms, self._max_future_ms)
            record_rejections(tx, message, rejections, dead, prefix)
            tx.counts[(message.position.topic, "processed")] += len(valid)
            accepted.extend(valid)
        return accepted, dead
