"""Alerting stage: the alert engine fed by fused steps, forecasts and dead letters.

Every state change is stored (incident upserted, history appended) in the batch's
transaction with the engine's per-site state, so a restarted worker resumes with its
open incidents; notifications go to the ``alerts`` topic and, when configured, to the
webhook. The three input topics are keyed by site and co-partitioned, so one worker owns
all of a site's inputs. A timer (:meth:`AlertingStage.handle_tick`) judges the silent
live sites of the worker's partitions by the wall clock.
"""

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from gridbrain.processors.alerting.engine import AlertEngine, DeadLetterId
from gridbrain.processors.alerting.lifecycle import AlertState, Change
from gridbrain.processors.alerting.rules import load_rules
from gridbrain.processors.fuse import FusedStep
from gridbrain.processors.identifiers import is_identifier
from gridbrain.processors.timestamps import ms_to_datetime
from gridbrain.settings import Settings
from gridbrain.storage.alerts import load_silences, record_changes
from gridbrain.storage.repositories import load_site_states, save_site_states, saved_site_ids
from gridbrain.storage.transaction import BatchTransaction
from gridbrain.streams.envelope import (
    DeadLetters,
    Emission,
    RawMessage,
    encode,
    fused_steps,
    site_of_key,
)
from gridbrain.streams.forecasting import decode_forecast
from gridbrain.streams.topics import ALERTS, SENSOR_READINGS, partition_of
from gridbrain.streams.webhook import WebhookNotifier

__all__ = ["STATE_KEY", "AlertingStage", "decode_fused", "notification"]

STATE_KEY = "alert"


def _iso(ms: int | None) -> str | None:
    return None if ms is None else ms_to_datetime(ms).isoformat()


def _dead_letter_id(value: bytes) -> DeadLetterId | None:
    """Where a dead-letter message's item came from (None: not a dead letter we made)."""
    try:
        letter = json.loads(value)
        return DeadLetterId(
            str(letter["topic"]),
            int(letter["partition"]),
            int(letter.get("epoch", 0)),
            int(letter["offset"]),
            int(letter["item_index"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def notification(change: Change) -> dict[str, Any]:
    """The message of a notified change (the alerts topic, the webhook's ``alerts``)."""
    incident = change.incident
    return {
        "dedup_key": incident.key,
        "status": "resolved" if change.state is AlertState.RESOLVED else "firing",
        "state": str(change.state),
        "reason": change.reason,
        "site_id": incident.labels["site_id"],
        "rule": incident.labels["alertname"],
        "severity": incident.labels["severity"],
        "labels": incident.labels,
        "started_at": _iso(incident.started_at_ms),
        "fired_at": _iso(incident.fired_at_ms),
        "at": _iso(change.at_ms),
        "resolved_at": _iso(incident.resolved_at_ms),
        "expected_at": _iso(incident.expected_at_ms),
        "value": change.value,
        "peak": incident.peak,
        "message": incident.message,
    }


def decode_fused(
    tx: BatchTransaction, messages: list[RawMessage], dead: DeadLetters
) -> dict[str, list[FusedStep]]:
    """The fused steps of the messages not yet applied, per site (first come first)."""
    per_site: dict[str, list[FusedStep]] = {}
    for step in fused_steps(tx, messages, dead):
        site = per_site.get(step.site_id)
        if site is None:
            site = per_site[step.site_id] = []
        site.append(step)
    return per_site


#: Sites whose dead letters wait in memory for the site's first step, at most.
_WAITING_SITES = 10_000


class AlertingStage:
    """Runs the alert engine of one worker; its handlers run on one thread.

    Dead letters of a site the stage has no state for yet wait in memory (for a bounded
    number of sites) until its first step comes: the cleaning stage publishes a batch's
    dead letters and fused steps together, and either topic may be read first.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._rules = load_rules(settings.alert_rules_file)
        self._silence_refresh_s = settings.silence_refresh_s
        self._live_lag_ms = int(settings.alert_live_lag_s * 1000)
        self._clock = clock
        url = settings.alert_webhook_url
        self.webhook = (
            WebhookNotifier(
                url.get_secret_value(),
                settings.alert_webhook_retries,
                settings.alert_webhook_backoff_s,
            )
            if url is not None
            else None
        )
        self.reset()

    def reset(self) -> None:
        """Forget the in-memory state; it is reloaded from the database site by site."""
        self._engine = AlertEngine(self._rules)
        self._silences_read_s = float("-inf")
        self._waiting: OrderedDict[str, list[tuple[int, list[DeadLetterId]]]] = OrderedDict()

    def _prepare(self, tx: BatchTransaction, site_ids: Iterable[str]) -> int:
        """Load unseen sites' state and refresh the silences; return the time now (ms)."""
        now_s = self._clock()
        new = {s for s in site_ids if not self._engine.knows(s)}
        if new:
            saved = load_site_states(tx.session, STATE_KEY, new)
            for site_id in new:
                self._engine.restore(site_id, saved.get(site_id))
        if now_s - self._silences_read_s >= self._silence_refresh_s:
            self._engine.silences = load_silences(tx.session, datetime.fromtimestamp(now_s, UTC))
            self._silences_read_s = now_s
        return int(now_s * 1000)

    def handle_fused(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Evaluate the step rules on a batch of fused steps, each site's steps at once.

        A site's steps keep their order (its changes too); sites are judged one after
        the other, in the order they first come in the batch.
        """
        dead = DeadLetters()
        per_site = decode_fused(tx, messages, dead)
        now_ms = self._prepare(tx, per_site)
        changes = [
            c
            for site in per_site
            for at_ms, letters in self._waiting.pop(site, [])
            for c in self._engine.on_dead_letters(site, letters, at_ms)
        ]
        changes += [
            c
            for site, steps in per_site.items()
            for c in self._engine.on_steps(site, steps, now_ms)
        ]
        return dead.store(tx.session) + self._finish(tx, changes, set(per_site))

    def handle_tick(self, tx: BatchTransaction, partitions: set[int], count: int) -> list[Emission]:
        """Judge the staleness of the silent live sites of ``partitions`` (wall clock).

        The sites are those with a saved state whose fused steps go to these partitions
        (of ``count``), so a worker that took over a partition judges the sites that went
        silent before.
        """
        sites = [
            s for s in saved_site_ids(tx.session, STATE_KEY) if partition_of(s, count) in partitions
        ]
        now_ms = self._prepare(tx, sites)
        changes = self._engine.on_tick(sites, now_ms, self._live_lag_ms)
        return self._finish(tx, changes, {c.incident.labels["site_id"] for c in changes})

    def handle_forecasts(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Evaluate the forecast rules on a batch of forecast messages."""
        dead = DeadLetters()
        issues = []
        for message in messages:
            if not tx.is_new(message.position):
                continue
            try:
                issues.append(decode_forecast(message.value))
            except (ValueError, KeyError, TypeError) as exc:
                dead.reject_message(tx, message, "bad_forecast_message", repr(exc))
                continue
            tx.counts[(message.position.topic, "received")] += 1
            tx.counts[(message.position.topic, "processed")] += 1
        now_ms = self._prepare(tx, {i.site_id for i in issues})
        changes = [c for issue in issues for c in self._engine.on_forecast(issue, now_ms)]
        sites = {i.site_id for i in issues}
        return dead.store(tx.session) + self._finish(tx, changes, sites)

    def handle_dead_letters(
        self, tx: BatchTransaction, messages: list[RawMessage]
    ) -> list[Emission]:
        """Count the sites' rejected readings for the dead-letter ratio rules.

        The site is the message key (the partitioning key). Only sites that already have
        alert state (they sent valid steps) are counted: anyone can make up site ids or
        keys, and those must not make state here; the dead letters of other sites wait in
        memory for the site's first step. A redelivered dead letter is counted once; a
        dead letter is never dead-lettered again, whatever it holds.
        """
        per_site: dict[str, list[DeadLetterId]] = {}
        for message in messages:
            if not tx.is_new(message.position):
                continue
            tx.counts[(message.position.topic, "received")] += 1
            letter = _dead_letter_id(message.value)
            site = site_of_key(message.key)
            if letter is not None and letter.topic == SENSOR_READINGS and is_identifier(site):
                per_site.setdefault(site, []).append(letter)
        unknown = [s for s in per_site if not self._engine.knows(s)]
        saved = load_site_states(tx.session, STATE_KEY, unknown) if unknown else {}
        received_ms = int(self._clock() * 1000)
        for site in [s for s in unknown if s not in saved]:
            self._wait(site, received_ms, per_site.pop(site))
        now_ms = self._prepare(tx, per_site)
        changes = [
            c
            for site, letters in per_site.items()
            for c in self._engine.on_dead_letters(site, letters, now_ms)
        ]
        return self._finish(tx, changes, set(per_site))

    def _wait(self, site: str, now_ms: int, letters: list[DeadLetterId]) -> None:
        """Keep a site's dead letters until its first step (the oldest sites drop out)."""
        self._waiting.setdefault(site, []).append((now_ms, letters))
        self._waiting.move_to_end(site)
        while len(self._waiting) > _WAITING_SITES:
            self._waiting.popitem(last=False)

    def _finish(
        self, tx: BatchTransaction, changes: list[Change], sites: set[str]
    ) -> list[Emission]:
        """Store the changes and the sites' state; return the notifications to publish."""
        current = self._engine.take_touched()  # open incidents with their latest values
        tx.counts[(ALERTS, "state_changes")] += record_changes(tx.session, changes, current)
        save_site_states(tx.session, STATE_KEY, {s: self._engine.export(s) for s in sites})
        notified = [notification(c) for c in changes if c.notify]
        tx.counts[(ALERTS, "published")] += len(notified)
        if notified and self.webhook is not None:
            self.webhook.submit(
                encode({"receiver": "gridbrain", "version": "1", "alerts": notified})
            )
        return [Emission(ALERTS, n["site_id"].encode(), encode(n)) for n in notified]
