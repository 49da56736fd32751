"""Rebalance handling: the stages' memory and the worker's report follow its partitions.

When a stage group loses partitions, it forgets its memory (it holds state of the
revoked partitions' sites; what the worker keeps is reloaded from the database site by
site). Partitions that come back after another worker applied messages of theirs are
also caught by the executor's offset fence, so stale memory never writes over newer
state.
"""

import logging

from gridbrain.streams.executor import StageGroup
from gridbrain.streams.health import WorkerHealth

__all__ = ["Holdings"]

_log = logging.getLogger(__name__)


class Holdings:
    """The partitions each stage group's consumer holds, reported as the worker's."""

    def __init__(self, health: WorkerHealth) -> None:
        self._health = health
        self._held: dict[str, set[tuple[str, int]]] = {}

    async def assigned(self, group: StageGroup, now: set[tuple[str, int]]) -> None:
        """``group``'s consumer holds ``now`` after a rebalance: forget what it lost."""
        revoked = self._held.get(group.name, set()) - now
        self._held[group.name] = now
        self._health.partitions = sorted(set().union(*self._held.values()))
        _log.info(
            "%s: partitions assigned: %s (revoked: %s)", group.name, sorted(now), sorted(revoked)
        )
        if revoked:
            await group.forget()  # in the group's own thread, after any batch running there
