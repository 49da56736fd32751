"""The batch executor: one transaction per batch, outputs delivered before the commit.

Every batch runs its stage handler off the event loop (in the stage group's one thread,
inside one database transaction), publishes what the handler emitted and waits for
delivery, then commits. Effects in the database are exactly-once (input offsets commit
with them); outputs are at-least-once. Failures follow :mod:`streams.policy`.

A stage group's memory is only valid while no other worker has applied messages of its
partitions: the executor remembers the offsets it committed itself, and when the stored
offsets of a partition moved on without it (the partition went to another worker and
came back), it resets the group's memory before the batch, which reloads from the
database.
"""

import asyncio
import logging
import os
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from gridbrain.storage.transaction import BatchTransaction, InputPosition, prepare_batch
from gridbrain.storage.workers import count_failure, forget_failure
from gridbrain.streams import metrics
from gridbrain.streams.envelope import DeadLetters, Emission, RawMessage, site_of_key
from gridbrain.streams.health import WorkerHealth
from gridbrain.streams.policy import Backoff, Verdict, classify, reason_of

__all__ = ["EXIT_STAGE_FAILED", "BatchExecutor", "Handler", "StageGroup"]

#: Exit code of a worker stopped by a bug on a message not yet quarantined (EX_SOFTWARE).
EXIT_STAGE_FAILED = 70
_log = logging.getLogger(__name__)

Handler = Callable[[BatchTransaction, list[RawMessage]], list[Emission]]
Publish = Callable[[list[Emission]], Awaitable[None]]
Work = Callable[[BatchTransaction], list[Emission]]


@dataclass
class StageGroup:
    """Stages that share one thread and one in-memory state (and so one reset).

    Attributes:
        name: for logs, e.g. ``clean``.
        reset: forgets the group's memory (it reloads from the database site by site).
        pool: the group's one thread.
        lock: one batch at a time from prepare to commit (they write the same rows).
        fence: (stage, topic, partition) -> the offset this group last committed there.
    """

    name: str
    reset: Callable[[], None]
    pool: ThreadPoolExecutor
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fence: dict[tuple[str, str, int], int] = field(default_factory=dict)

    async def forget(self) -> None:
        """Reset the memory (in the group's thread) and the fence."""
        self.fence.clear()
        await asyncio.get_running_loop().run_in_executor(self.pool, self.reset)


class BatchExecutor:
    """Runs batches with the error policy: retry outages, isolate data, quarantine bugs."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        publish: Publish,
        health: WorkerHealth,
        quarantine_after: int = 3,
        backoff: Callable[[], Backoff] = Backoff,
        exit: Callable[[int], object] | None = None,
    ) -> None:
        self._exit = exit or _exit_process
        self._sessions = sessions
        self._publish = publish
        self._health = health
        self._quarantine_after = quarantine_after
        self._backoff = backoff

    async def run(
        self, group: StageGroup, stage: str, messages: list[RawMessage], handler: Handler
    ) -> None:
        """Apply ``messages`` through ``handler``; a failing message is isolated by bisection."""
        async with group.lock:
            await self._isolate(group, stage, messages, handler)

    async def tick(
        self, group: StageGroup, stage: str, locks: set[tuple[str, int]], work: Work
    ) -> None:
        """Run input-less work (a timer); an outage or a bug skips this tick."""
        async with group.lock:
            try:
                await self._once(group, stage, locks, work)
            except Exception:
                _log.exception("stage %s: timer failed; it runs again next time", stage)
                await group.forget()

    async def _isolate(
        self, group: StageGroup, stage: str, messages: list[RawMessage], handler: Handler
    ) -> None:
        try:
            await self._with_retries(
                group, stage, messages, lambda tx: handler(tx, messages), _consumed(messages)
            )
        except Exception as exc:
            if len(messages) == 1:
                await self._failed(group, stage, messages[0], exc)
                return
            _log.warning(
                "stage %s: %s in a batch of %d messages; isolating it",
                stage,
                _short(exc),
                len(messages),
            )
            middle = len(messages) // 2
            await self._isolate(group, stage, messages[:middle], handler)
            await self._isolate(group, stage, messages[middle:], handler)

    async def _with_retries(
        self,
        group: StageGroup,
        stage: str,
        messages: list[RawMessage],
        work: Work,
        consumed: Counter[str] | None = None,
    ) -> None:
        """Run ``work`` until it succeeds or fails with something that is not an outage.

        ``consumed`` (input messages per topic) is counted in the metrics once it commits.
        """
        partitions = {(m.position.topic, m.position.partition) for m in messages}
        backoff = self._backoff()
        while True:
            try:
                await self._once(group, stage, partitions, work, consumed)
            except Exception as exc:
                await group.forget()  # the memory ran ahead of what was committed
                if classify(exc) is not Verdict.OUTAGE:
                    raise
                delay = backoff.next_delay()
                self._health.retrying(f"{stage}: {_short(exc)}")
                metrics.RETRIES.labels(stage).inc()
                _log.warning(
                    "stage %s: outage (%s); retry %d in %.1f s, offsets held",
                    stage,
                    _short(exc),
                    backoff.attempts,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            if backoff.attempts:
                _log.warning("stage %s: recovered after %d retries", stage, backoff.attempts)
                self._health.recovered()
            return

    async def _once(
        self,
        group: StageGroup,
        stage: str,
        partitions: set[tuple[str, int]],
        work: Work,
        consumed: Counter[str] | None = None,
    ) -> None:
        """Prepare in the group's thread, publish, commit; roll back if publishing fails."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        seen: list[BatchTransaction] = []

        numbers = {p for _, p in partitions}  # co-partitioned topics share an owner

        def fenced(tx: BatchTransaction) -> list[Emission]:
            moved = [
                (topic, p)
                for (st, topic, p), done in group.fence.items()
                if st == stage and p in numbers and tx.committed.get((topic, p), -1) != done
            ]
            if moved:
                _log.info("stage %s: %s moved on elsewhere; reloading state", stage, moved)
                group.fence.clear()
                group.reset()
            seen.append(tx)
            return work(tx)

        prepared = await loop.run_in_executor(
            group.pool, prepare_batch, self._sessions, stage, partitions, fenced
        )
        try:
            # Deliver the outputs before committing: a crash in between redelivers the
            # batch (duplicate outputs) instead of losing its outputs.
            await self._publish(prepared.result)
        except BaseException:
            await loop.run_in_executor(group.pool, prepared.rollback)
            raise
        await loop.run_in_executor(group.pool, prepared.commit)
        tx = seen[-1]
        elapsed = time.perf_counter() - started
        metrics.observe_batch(stage, consumed or {}, tx.counts, prepared.result, elapsed)
        for tp in partitions:
            done = max(tx.committed.get(tp, -1), tx.offsets.get(tp, -1))
            group.fence[(stage, *tp)] = done

    async def _failed(
        self, group: StageGroup, stage: str, message: RawMessage, exc: Exception
    ) -> None:
        """One message fails with a data error or a bug: dead-letter, exit or quarantine."""
        verdict = classify(exc)
        position = message.position
        if verdict is Verdict.DATA:
            _log.warning("stage %s: data error at %s: %s", stage, position, _short(exc))
            await self._dead_letter(group, stage, message, reason_of(exc), _short(exc, 2000))
            return
        trace = "".join(traceback.format_exception(exc))
        failures = await self._count_failure(group, stage, position, trace)
        if failures < self._quarantine_after:
            _log.error(
                "stage %s failed on the message at %s (failure %d of %d before it is "
                "quarantined); the worker exits and the batch is redelivered\n%s",
                stage,
                position,
                failures,
                self._quarantine_after,
                trace,
            )
            self.stop()
            return
        _log.error(
            "stage %s: quarantining the message at %s after %d failures", stage, position, failures
        )
        self._health.quarantined += 1
        metrics.QUARANTINED.labels(stage).inc()
        await self._dead_letter(group, stage, message, "quarantined", trace)

    async def _count_failure(
        self, group: StageGroup, stage: str, position: InputPosition, trace: str
    ) -> int:
        counted: list[int] = []

        def work(tx: BatchTransaction) -> list[Emission]:
            counted.append(count_failure(tx.session, stage, position, trace[-8000:]))
            return []

        await self._with_retries(group, stage, [], work)
        return counted[-1]

    async def _dead_letter(
        self, group: StageGroup, stage: str, message: RawMessage, reason: str, detail: str
    ) -> None:
        """Dead-letter a whole message (its offset commits with it) and move on."""

        def work(tx: BatchTransaction) -> list[Emission]:
            dead = DeadLetters()
            if tx.is_new(message.position):
                dead.reject_message(tx, message, reason, detail)
                tx.quality[(site_of_key(message.key), reason)] += 1
                forget_failure(tx.session, stage, message.position)
            return dead.store(tx.session)

        try:
            await self._with_retries(group, stage, [message], work, _consumed([message]))
        except Exception:
            _log.exception(
                "stage %s: cannot dead-letter the message at %s", stage, message.position
            )
            self.stop()

    def stop(self) -> None:
        """Exit the worker: the supervisor starts a clean one from the committed offsets."""
        self._exit(EXIT_STAGE_FAILED)


def _exit_process(code: int) -> None:
    logging.shutdown()
    os._exit(code)


def _consumed(messages: list[RawMessage]) -> Counter[str]:
    return Counter(m.position.topic for m in messages)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
