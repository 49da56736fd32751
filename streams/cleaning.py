"""Cleaning stage: validate, clean, resample and fuse sensor readings and weather."""

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from gridbrain.errors import InvalidMessageError
from gridbrain.settings import Settings
from processors.clean import range_mask
from processors.fuse import WeatherAsOf
from processors.resample import BucketIncrement, ClosedStep, Resampler, merge_increments
from processors.validate import (
    ReadingBatch,
    Rejection,
    decode_items,
    validate_readings,
    validate_weather,
)
from storage.history import weather_between
from storage.repositories import (
    add_reading_increments,
    add_weather,
    ensure_sites,
    load_site_states,
    save_site_states,
)
from storage.transaction import BatchTransaction
from streams.envelope import DeadLetters, Emission, RawMessage, encode
from streams.topics import FUSED

__all__ = ["STATE_KEY", "CleaningStage"]

#: Name under which the stage saves its per-site state.
STATE_KEY = "clean"
DAY_MS = 86_400_000


class CleaningStage:
    """Holds the cleaning state of one worker (resampler, duplicates, recent weather).

    Its handlers run on one thread, inside the batch's transaction.
    """

    def __init__(self, settings: Settings) -> None:
        self._step_ms = settings.step_ms
        self._lateness_ms = settings.allowed_lateness_minutes * 60_000
        self._staleness_ms = settings.weather_staleness_minutes * 60_000
        self._max_future_ms = settings.max_future_minutes * 60_000
        self._known_sites: set[str] = set()
        self.reset()

    def reset(self) -> None:
        """Forget all in-memory state; it is reloaded from the database site by site."""
        self._resampler = Resampler(self._step_ms, self._lateness_ms)
        self._weather = WeatherAsOf(self._staleness_ms)
        self._loaded: set[str] = set()

    def _new_items(
        self,
        tx: BatchTransaction,
        messages: list[RawMessage],
        rejected: DeadLetters,
        prefix: str = "",
    ) -> Iterator[tuple[RawMessage, list[Any]]]:
        """The decoded items of each message not yet applied; undecodable ones dead-lettered."""
        for message in messages:
            if not tx.is_new(message.position):
                continue
            topic = message.position.topic
            tx.counts[(topic, "messages")] += 1
            try:
                items = decode_items(message.value)
            except InvalidMessageError as exc:
                rejected.reject_message(tx, message, exc.reason, exc.detail)
                # Undecodable: the message key (the site id by convention) tells the site.
                site = message.key.decode(errors="replace") if message.key else "(unknown)"
                tx.quality[(site, f"{prefix}{exc.reason}")] += 1
                continue
            tx.counts[(topic, "received")] += len(items)
            yield message, items

    def _load_sites(self, tx: BatchTransaction, site_ids: list[str]) -> None:
        """Restore the saved state (and recent weather) of sites this worker has not seen."""
        new = set(site_ids) - self._loaded
        if not new:
            return
        for site_id, state in load_site_states(tx.session, STATE_KEY, new).items():
            self._resampler.restore(site_id, state)
            watermark = int(state["watermark_ms"])
            start = watermark - 4 * self._weather.staleness_ms
            for observation in weather_between(tx.session, site_id, start, watermark + DAY_MS):
                self._weather.add(observation)
        self._loaded |= new

    def handle_readings(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Validate, clean and resample a batch of ``sensor.readings`` messages."""
        now_ms = int(time.time() * 1000)
        rejected = DeadLetters()
        increments: list[BucketIncrement] = []
        closed: list[ClosedStep] = []
        sites: set[str] = set()
        for message, items in self._new_items(tx, messages, rejected):
            topic = message.position.topic
            batch, rejections = validate_readings(items, now_ms, self._max_future_ms)
            self._load_sites(tx, batch.site_id)
            batch = _reject(batch, range_mask(batch), "out_of_range", items, rejections)
            batch = _reject(batch, self._resampler.open_mask(batch), "too_late", items, rejections)
            for rejection in rejections:
                rejected.add(message.position, rejection, message.key)
                tx.quality[(_site_of(rejection.payload), rejection.reason)] += 1
            tx.counts[(topic, "deadlettered")] += len(rejections)
            first = self._resampler.first_seen_mask(batch)
            tx.counts[(topic, "duplicates")] += int((~first).sum())
            tx.counts[(topic, "processed")] += int(first.sum())
            for site_id, is_first in zip(batch.site_id, first.tolist(), strict=True):
                tx.quality[(site_id, "processed" if is_first else "duplicate")] += 1
            # Resampled message by message, so lateness does not depend on batch sizes.
            added, newly_closed = self._resampler.add(batch.take(first))
            increments.extend(added)
            closed.extend(newly_closed)
            sites.update(batch.site_id)
        new_sites = sites - self._known_sites
        ensure_sites(tx.session, new_sites)
        self._known_sites |= new_sites
        add_reading_increments(tx.session, merge_increments(increments))
        save_site_states(tx.session, STATE_KEY, {s: self._resampler.export(s) for s in sites})
        fused = [self._weather.fuse(step, self._step_ms) for step in closed]
        tx.counts[(FUSED, "emitted")] += len(fused)
        return rejected.store(tx.session) + [
            Emission(FUSED, f.site_id.encode(), encode(f.to_dict())) for f in fused
        ]

    def handle_weather(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Validate and store a batch of ``weather.observations`` messages."""
        now_ms = int(time.time() * 1000)
        rejected = DeadLetters()
        accepted = []
        for message, items in self._new_items(tx, messages, rejected, "weather_"):
            topic = message.position.topic
            observations, rejections = validate_weather(items, now_ms, self._max_future_ms)
            for rejection in rejections:
                rejected.add(message.position, rejection, message.key)
                tx.quality[(_site_of(rejection.payload), f"weather_{rejection.reason}")] += 1
            tx.counts[(topic, "deadlettered")] += len(rejections)
            tx.counts[(topic, "processed")] += len(observations)
            accepted.extend(observations)
        for observation in accepted:
            self._weather.add(observation)
        add_weather(tx.session, accepted)
        return rejected.store(tx.session)


_EXPLAIN = {
    "out_of_range": "outside the quantity's physical range",
    "too_late": "its step was already closed and emitted (allowed lateness passed)",
}


def _reject(
    batch: ReadingBatch, keep: np.ndarray, reason: str, items: list[Any], out: list[Rejection]
) -> ReadingBatch:
    """Append a rejection for each reading not in ``keep``; return the kept readings."""
    for i in np.flatnonzero(~keep):
        detail = f"{batch.quantity[i]}={batch.value[i]:g} at {batch.ts_ms[i]}: {_EXPLAIN[reason]}"
        out.append(Rejection(batch.index[i], reason, detail, items[batch.index[i]]))
    return batch.take(keep)


def _site_of(payload: Any) -> str:
    """The site a rejected item names, if it names one."""
    if isinstance(payload, dict):
        site = payload.get("site_id") or payload.get("station_id")
        if isinstance(site, str) and site:
            return site
    return "(unknown)"
