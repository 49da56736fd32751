"""Rebalance handling: the stages' memory and the worker's report follow its partitions.

When partitions are revoked, every stage group forgets its memory (it holds state of the
revoked partitions' sites; what the worker keeps is reloaded from the database site by
site). Partitions that come back after another worker applied messages of theirs are
also caught by the executor's offset fence, so stale memory never writes over newer
state.
"""

import asyncio
import logging
from typing import Any

import faust

from gridbrain.streams.executor import StageGroup
from gridbrain.streams.health import WorkerHealth

__all__ = ["follow_rebalances"]

_log = logging.getLogger(__name__)


def follow_rebalances(app: faust.App, groups: list[StageGroup], health: WorkerHealth) -> None:
    """Connect ``app``'s assignment signal to the stage groups and the worker's report."""

    async def on_assigned(sender: Any, assigned: set[Any], **_: Any) -> None:
        now = {(tp.topic, tp.partition) for tp in assigned}
        revoked = set(health.partitions) - now
        health.partitions = sorted(now)
        _log.info("partitions assigned: %s (revoked: %s)", sorted(now), sorted(revoked))
        if revoked:
            # In the groups' own threads, after any batch already running there.
            await asyncio.gather(*(g.forget() for g in groups))

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]
