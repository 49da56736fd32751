"""Cleaning stage: validate, check, resample and fuse sensor readings with weather."""

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from gridbrain.processors.clean import range_mask
from gridbrain.processors.columnar import validate_columns
from gridbrain.processors.fuse import fuse
from gridbrain.processors.quality.checker import QualityChecker
from gridbrain.processors.quality.config import QualityConfig
from gridbrain.processors.quality.flags import Flag
from gridbrain.processors.resample import Aggregation, ClosedStep, Resampler
from gridbrain.processors.site_admission import SiteAdmission
from gridbrain.processors.sites import SiteProfile, nearest_station
from gridbrain.processors.validate import ReadingBatch, Rejection, validate_readings
from gridbrain.settings import Settings
from gridbrain.storage.repositories import (
    add_gap_fills,
    add_reading_increments,
    load_site_states,
    save_site_states,
)
from gridbrain.storage.sites import ensure_sites, site_profiles, station_locations
from gridbrain.storage.transaction import BatchTransaction, InputPosition
from gridbrain.streams.envelope import (
    DeadLetters,
    Emission,
    RawMessage,
    decode_new,
    encode,
    record_rejections,
)
from gridbrain.streams.sources import Sources, record_unknown, reject
from gridbrain.streams.topics import FUSED, REROUTED, partition_of
from gridbrain.streams.weather import WeatherStage

__all__ = ["STATE_KEY", "CleaningStage"]

#: Name under which the stage saves its per-site state.
STATE_KEY = "clean"
_LABELS = {int(f): f.label for f in Flag}
_STEPS_PER_MESSAGE = 200  # ~100 kB, well under the producers' 1 MB request limit
_SWEEP_S = 60.0  # idle sites are looked for at most this often (wall clock)
_REROUTED_PER_MESSAGE = 1000  # readings are ~100 B each: ~100 kB a message
_MAX_SEQUENCE = 1_000_000  # rerouted messages made of one input message, at most


class CleaningStage:
    """Holds the cleaning state of one worker (resampler, check state, site profiles).

    One owner per site: a site's state lives with the partition its id hashes to (Kafka's
    default partitioner on the site id), whatever key the producer used. Readings that
    arrive on another partition (a gateway batch of many sites under one key) are sent on
    to their site's partition, keyed by site, and counted as ``rerouted``; producers that
    key by site never pay for it. ``partitions`` gives the topic's partition count (None:
    unknown, nothing is rerouted).

    Its handlers run on one thread, inside the batch's transaction. A site's profile
    (position, check overrides, weather station) is read when the worker first sees the
    site; changes made with ``gridbrain sites load`` apply after a worker restart.

    Memory is bounded: a site met for the first time is taken on by the site policy
    (``site_policy``, ``new_sites_per_hour``; readings of refused sites are dead-lettered
    as ``unknown_site``), and a site not met for ``site_idle_evict_minutes`` (``clock``,
    seconds) is dropped from memory; its state is saved with every batch that touches it
    and is reloaded when it sends again.
    """

    def __init__(
        self,
        settings: Settings,
        weather: WeatherStage | None = None,
        partitions: Callable[[], int | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._admission = SiteAdmission(settings.site_policy, settings.new_sites_per_hour)
        self._idle_s = settings.site_idle_evict_minutes * 60.0
        self._partitions = partitions
        self._step_ms = settings.step_ms
        self._lateness_ms = settings.allowed_lateness_minutes * 60_000
        self._max_future_ms = settings.max_future_minutes * 60_000
        self._station_km = settings.nearest_station_max_km
        self._config = QualityConfig()
        self._weather = weather or WeatherStage(settings)
        self.reset()

    def reset(self) -> None:
        """Forget all in-memory state; it is reloaded from the database site by site."""
        max_gap = {q: c.max_gap_minutes * 60_000 for q, c in self._config.quantities.items()}
        self._resampler = Resampler(self._step_ms, self._lateness_ms, max_gap)
        self._checker = QualityChecker(self._config)
        self._stations: dict[str, str] = {}  # the sites in memory (taken on), and station
        self._known_sites: set[str] = set()  # sites in memory known to be in the sites table
        self._seen: dict[str, float] = {}  # site -> clock when last met
        self._swept_s = self._clock()
        self._weather.reset()

    @property
    def sites_in_memory(self) -> int:
        """How many sites this worker holds state for."""
        return len(self._stations)

    def _load_sites(self, tx: BatchTransaction, site_ids: list[str]) -> dict[str, str]:
        """Take on the sites not in memory; restore their saved state and profile.

        One query tells which of them are registered; the site policy decides on the rest.
        Returns the refused sites, each with why.
        """
        now_s = self._clock()
        met = set(site_ids)
        new = met - self._stations.keys()
        decision = None
        if new:
            profiles = site_profiles(tx.session, new)
            decision = self._admission.decide(new, profiles.keys(), now_s)
            self._known_sites |= profiles.keys()
            self._restore(tx, decision.admitted, profiles)
        refused = decision.refused if decision else {}
        for site_id in met:
            if site_id not in refused:
                self._seen[site_id] = now_s
        return refused

    def _restore(
        self, tx: BatchTransaction, sites: frozenset[str], profiles: dict[str, SiteProfile]
    ) -> None:
        if not sites:
            return
        for site_id, state in load_site_states(tx.session, STATE_KEY, sites).items():
            self._resampler.restore(site_id, state["resample"])
            self._checker.restore(site_id, state["quality"])
        stations = station_locations(tx.session)
        for site_id in sites:
            profile = profiles.get(site_id) or SiteProfile(site_id=site_id)
            self._checker.configure_site(site_id, profile.location, profile.quality)
            self._stations[site_id] = _station_of(profile, stations, self._station_km)

    def _evict_idle(self) -> None:
        """Drop the sites not met for the idle limit (looked for at most once a minute).

        Their state is in Postgres: ``_store`` saves every site a batch touches, and a
        site's memory changes only in batches that touch it.
        """
        now_s = self._clock()
        if now_s - self._swept_s < _SWEEP_S:
            return
        self._swept_s = now_s
        for site_id in [s for s, t in self._seen.items() if now_s - t > self._idle_s]:
            del self._seen[site_id]
            self._stations.pop(site_id, None)
            self._known_sites.discard(site_id)
            self._resampler.forget(site_id)
            self._checker.forget(site_id)

    def handle_readings(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Validate, check, resample and fuse a batch of ``sensor.readings`` messages.

        The messages' readings go through every step together, as columns (a handful of
        numpy calls per batch, not per message); steps close message by message, as if
        each message came on its own.
        """
        now_ms = int(time.time() * 1000)
        self._evict_idle()
        dead = DeadLetters()
        batch, sources = self._decode(tx, messages, now_ms, dead)
        count = self._partitions()
        rerouted: list[Emission] = []
        if count:
            batch = self._reroute(tx, sources, batch, count, rerouted)
        refused = self._load_sites(tx, list(set(batch.site_id)))
        if refused:
            taken = np.array([s not in refused for s in batch.site_id], dtype=bool)
            unknown = Sources(sources.messages, sources.items)
            batch = reject(batch, taken, "unknown_site", unknown, refused)
            for message, rejections in zip(unknown.messages, unknown.rejections, strict=True):
                record_unknown(tx, message, rejections, dead)
        batch = reject(batch, range_mask(batch), "out_of_range", sources)
        is_open, first = self._resampler.admit(batch)
        batch = reject(batch, is_open, "too_late", sources)
        first = first[is_open]
        for message, rejections in zip(sources.messages, sources.rejections, strict=True):
            record_rejections(tx, message, rejections, dead)
        _count_per_topic(tx, sources, batch.message, first)
        for site_id, n in Counter(batch.take(~first).site_id).items():
            tx.quality[(site_id, "duplicate")] += n
        admitted = batch.take(first)
        flags = self._checker.check(admitted)
        for (site_id, flag), n in Counter(
            zip(admitted.site_id, flags.tolist(), strict=True)
        ).items():
            tx.quality[(site_id, _LABELS[flag] if flag else "clean")] += n
        result = self._resampler.aggregate(admitted, flags)
        self._store(tx, admitted, result)
        tx.counts[(FUSED, "emitted")] += len(result.closed)
        return rerouted + dead.store(tx.session) + self._fuse(tx, result.closed)

    def _decode(
        self, tx: BatchTransaction, messages: list[RawMessage], now_ms: int, dead: DeadLetters
    ) -> tuple[ReadingBatch, Sources]:
        """The valid readings of the messages not applied before, in message order.

        Well-formed messages are decoded and checked together as columns; the others item
        by item, each rejection recorded on its message (a message that cannot be decoded
        at all is dead-lettered whole, and keeps its number with no readings).
        """
        fresh = [m for m in messages if tx.is_new(m.position)]
        batch = ReadingBatch()
        direct = [b"" if m.position.topic == REROUTED else m.value for m in fresh]
        decoded = validate_columns(direct, now_ms, self._max_future_ms, batch)
        sources = Sources()
        others = ReadingBatch()  # readings of the messages that need a look item by item
        well_formed: Counter[str] = Counter()
        for number, (message, n) in enumerate(zip(fresh, decoded, strict=True)):
            topic = message.position.topic
            if n is not None:  # well formed: no item needs a look of its own
                well_formed[topic] += 1
                tx.counts[(topic, "received")] += n
                sources.add(message, None, [])
                continue
            items = decode_new(tx, message, dead)
            if items is not None and topic == REROUTED:
                items = _unwrap(tx, message, items, dead)
            rejected: list[Rejection] = []
            if items is not None:
                _, rejected = validate_readings(items, now_ms, self._max_future_ms, others, number)
            sources.add(message, items or [], rejected)
        for topic, n in well_formed.items():
            tx.counts[(topic, "messages")] += n
        if len(others):
            batch.extend(others)
            batch = batch.rows(np.argsort(np.asarray(batch.message), kind="stable"))
        return batch, sources

    @staticmethod
    def _reroute(
        tx: BatchTransaction,
        sources: Sources,
        batch: ReadingBatch,
        count: int,
        out: list[Emission],
    ) -> ReadingBatch:
        """Send readings of sites owned by another partition there; return the others.

        They go to the internal topic ``gridbrain.rerouted`` (same partition count), each
        message wrapped with its origin (topic, partition, offset, sequence), so that the
        receiving partition applies a message resent after a crash only once.
        """
        owners = {s: partition_of(s, count) for s in set(batch.site_id)}
        partitions = [m.position.partition for m in sources.messages]
        here = np.array(
            [owners[s] == partitions[m] for s, m in zip(batch.site_id, batch.message, strict=True)],
            dtype=bool,
        )
        if here.all():
            return batch
        away: dict[int, dict[str, list[Any]]] = {}
        for i in np.flatnonzero(~here).tolist():
            m = batch.message[i]
            moved = away.setdefault(m, {}).setdefault(batch.site_id[i], [])
            moved.append(sources.item(m, batch.index[i]))
        for m, per_site in away.items():
            origin = sources.messages[m].position
            sequence = 0
            for site, moved in per_site.items():
                for start in range(0, len(moved), _REROUTED_PER_MESSAGE):
                    envelope = {
                        "origin": [origin.topic, origin.partition, origin.offset, sequence],
                        "items": moved[start : start + _REROUTED_PER_MESSAGE],
                    }
                    out.append(Emission(REROUTED, site.encode(), encode(envelope), owners[site]))
                    sequence += 1
            n = sum(len(moved) for moved in per_site.values())
            tx.counts[(origin.topic, "received")] -= n
            tx.counts[(origin.topic, "rerouted")] += n
        return batch.take(here)

    def _store(self, tx: BatchTransaction, admitted: ReadingBatch, result: Aggregation) -> None:
        sites = set(admitted.site_id)
        new_sites = sites - self._known_sites
        ensure_sites(tx.session, new_sites)
        self._known_sites |= new_sites
        add_reading_increments(tx.session, result.increments)
        add_gap_fills(tx.session, result.gaps)
        for gap in result.gaps:
            kind = "gap_missing_steps" if gap.fill.values is None else "gap_interpolated_steps"
            tx.quality[(gap.site_id, kind)] += gap.fill.steps
        states = {
            s: {"resample": self._resampler.export(s), "quality": self._checker.export(s)}
            for s in sites
        }
        save_site_states(tx.session, STATE_KEY, states)

    def _fuse(self, tx: BatchTransaction, closed: list[ClosedStep]) -> list[Emission]:
        """Join closed steps with weather, from storage for steps the caches cannot serve."""
        step_ms = self._step_ms
        cache = (self._weather.observed, self._weather.forecast)
        cached = [
            bool(cache[0].latest(self._stations[s.site_id], s.ts_ms + step_ms)[0]) for s in closed
        ]
        missing: dict[str, tuple[int, int]] = {}
        for step, hit in zip(closed, cached, strict=True):
            if not hit:
                station, end = self._stations[step.site_id], step.ts_ms + step_ms
                lo, hi = missing.get(station, (end, end))
                missing[station] = (min(lo, end), max(hi, end))
        stored = self._weather.load(tx, missing)
        per_site: dict[str, list[dict[str, object]]] = {}
        for step, hit in zip(closed, cached, strict=True):
            observed, forecast = cache if hit else stored
            fused = fuse(step, step_ms, self._stations[step.site_id], observed, forecast)
            per_site.setdefault(step.site_id, []).append(fused.to_dict())
        # Up to _STEPS_PER_MESSAGE steps of a site per message, in time order: replays close
        # thousands of steps per batch, and a message each makes the producer the bottleneck.
        return [
            Emission(FUSED, site.encode(), encode(steps[i : i + _STEPS_PER_MESSAGE]))
            for site, steps in per_site.items()
            for i in range(0, len(steps), _STEPS_PER_MESSAGE)
        ]


def _count_per_topic(
    tx: BatchTransaction, sources: Sources, message: list[int], first: np.ndarray
) -> None:
    """Count admitted readings as ``processed``, repeated ones as ``duplicates``, per topic."""
    names = sorted({m.position.topic for m in sources.messages})
    code = {name: i for i, name in enumerate(names)}
    topic_of = np.array([code[m.position.topic] for m in sources.messages], dtype=np.int64)
    rows = topic_of[np.asarray(message, dtype=np.int64)]
    for counter, chosen in (("processed", first), ("duplicates", ~first)):
        counts = np.bincount(rows[chosen], minlength=len(names)).tolist()
        for name, n in zip(names, counts, strict=True):
            if n:
                tx.counts[(name, counter)] += n


def _unwrap(
    tx: BatchTransaction, message: RawMessage, items: list[Any], dead: DeadLetters
) -> list[Any] | None:
    """The readings of a rerouted message; None when it was applied before or is bad.

    Its origin is recorded like an input offset, per receiving partition: rerouted
    messages from one origin partition arrive in (offset, sequence) order, so a resent
    one is recognised.
    """
    topic = message.position.topic
    try:
        (envelope,) = items
        origin_topic, origin_partition, origin_offset, sequence = envelope["origin"]
        readings = list(envelope["items"])
        position = InputPosition(
            f"{origin_topic}>{message.position.partition}",
            int(origin_partition),
            int(origin_offset) * _MAX_SEQUENCE + int(sequence),
        )
    except (ValueError, TypeError, KeyError) as exc:
        tx.counts[(topic, "received")] -= len(items)
        dead.reject_message(tx, message, "bad_rerouted_message", repr(exc))
        return None
    tx.counts[(topic, "received")] += len(readings) - 1
    if not tx.is_new(position, count=False):
        tx.counts[(topic, "received")] -= len(readings)
        tx.counts[(topic, "redelivered")] += 1
        return None
    return readings


def _station_of(profile: SiteProfile, stations: dict[str, tuple[float, float]], km: float) -> str:
    """The station a site takes its weather from: named, else nearest, else itself."""
    if profile.weather_station:
        return profile.weather_station
    if profile.location is not None:
        others = {s: loc for s, loc in stations.items() if s != profile.site_id}
        nearest = nearest_station(profile.location, others, km)
        if nearest is not None and profile.site_id not in stations:
            return nearest
    return profile.site_id
