"""What the alert engine keeps per site, and the identities of its inputs."""

from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from gridbrain.processors.alerting.lifecycle import Incident
from gridbrain.processors.alerting.series import HourlySeries

__all__ = ["DeadLetterId", "ForecastIssue", "SiteState", "push"]


@dataclass(frozen=True)
class ForecastIssue:
    """One issued forecast of a series: the targets and each quantile's values."""

    site_id: str
    quantity: str
    model: str
    issued_at_ms: int
    targets_ms: list[int]
    quantiles: dict[str, list[float]]


class DeadLetterId(NamedTuple):
    """Where a dead-lettered item came from (its identity across redeliveries)."""

    topic: str
    partition: int
    epoch: int
    offset: int
    item_index: int

    @property
    def position(self) -> tuple[int, int, int]:
        """Its order within its source partition."""
        return (self.epoch, self.offset, self.item_index)


@dataclass
class SiteState:
    """What the engine keeps of one site; exports to JSON so a restart resumes."""

    series: dict[str, HourlySeries] = field(default_factory=dict)
    seen_ms: dict[str, int] = field(default_factory=dict)
    watermark_ms: int = -1
    arrived_ms: int = -1  # wall clock when its newest step arrived
    dead: deque[tuple[int, int]] = field(default_factory=deque)  # (wall ms, count)
    accepted: deque[tuple[int, int]] = field(default_factory=deque)
    incidents: dict[str, Incident] = field(default_factory=dict)
    dead_seen: dict[str, list[int]] = field(default_factory=dict)  # source -> position

    def export(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "dead_seen": self.dead_seen,
            "series": {q: s.export() for q, s in self.series.items()},
            "seen_ms": self.seen_ms,
            "watermark_ms": self.watermark_ms,
            "arrived_ms": self.arrived_ms,
            "dead": list(self.dead),
            "accepted": list(self.accepted),
            "incidents": {k: i.export() for k, i in self.incidents.items()},
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> "SiteState":
        """The state :meth:`export` wrote."""
        return cls(
            {q: HourlySeries.restore(s) for q, s in data["series"].items()},
            {q: int(t) for q, t in data["seen_ms"].items()},
            int(data["watermark_ms"]),
            int(data.get("arrived_ms", -1)),
            deque((int(t), int(n)) for t, n in data["dead"]),
            deque((int(t), int(n)) for t, n in data["accepted"]),
            {k: Incident.restore(i) for k, i in data["incidents"].items()},
            {k: [int(x) for x in v] for k, v in data.get("dead_seen", {}).items()},
        )


def push(window: deque[tuple[int, int]], at_ms: int, count: int) -> None:
    """Add ``count`` at ``at_ms`` to a window of (wall ms, count), merging equal times."""
    if window and window[-1][0] == at_ms:
        window[-1] = (at_ms, window[-1][1] + count)
    else:
        window.append((at_ms, count))
