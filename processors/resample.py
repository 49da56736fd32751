"""Resampling of each site's readings to a fixed step, closed by event time.

A batch goes through in two passes. :meth:`Resampler.admit` runs message by message: it
finds readings that are too late (their step already closed) or duplicates, advances the
site's event-time watermark and closes the steps it has passed. The quality checks then
run over the whole batch, and :meth:`Resampler.aggregate` adds the admitted readings to
their steps and emits the closed ones. Because a reading for a closed step is never
admitted, aggregating at the end of the batch gives the same steps as aggregating after
every message: results do not depend on batch boundaries.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridbrain.processors.quality.flags import Flag
from gridbrain.processors.quality.gaps import GapFill, fill_gap
from gridbrain.processors.validate import ReadingBatch

__all__ = ["Aggregation", "BucketIncrement", "ClosedStep", "FilledGap", "Resampler"]


@dataclass(frozen=True)
class BucketIncrement:
    """A partial aggregate to add to one stored step.

    Sum and count of new clean readings, and how many new readings the checks left out.
    """

    site_id: str
    quantity: str
    ts_ms: int
    value_sum: float
    count: int
    flagged: int = 0


@dataclass(frozen=True)
class ClosedStep:
    """One site's step whose window has closed.

    Attributes:
        values: mean of the clean readings of each quantity (absent: none were clean).
        counts: clean readings per quantity.
        flagged: readings per quantity the quality checks left out.
        flags: per quantity with flagged readings, the checks that flagged them.
    """

    site_id: str
    ts_ms: int
    values: dict[str, float]
    counts: dict[str, int]
    flagged: dict[str, int] = field(default_factory=dict)
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def quality(self, quantity: str) -> str:
        """``ok``, ``cleaned`` (some readings left out) or ``flagged`` (all of them)."""
        if quantity not in self.values:
            return "flagged"
        return "cleaned" if self.flagged.get(quantity) else "ok"


@dataclass(frozen=True)
class FilledGap:
    """Steps of one series that had no clean value, found when the next value arrived."""

    site_id: str
    quantity: str
    fill: GapFill


@dataclass(frozen=True)
class Aggregation:
    """What :meth:`Resampler.aggregate` produced."""

    increments: list[BucketIncrement]
    closed: list[ClosedStep]
    gaps: list[FilledGap]


@dataclass
class _SiteState:
    buckets: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    keys: dict[int, dict[tuple[str, str], set[int]]] = field(default_factory=dict)
    closing: set[int] = field(default_factory=set)
    last_value: dict[str, tuple[int, float]] = field(default_factory=dict)
    cadence: dict[str, int] = field(default_factory=dict)
    watermark_ms: int = -1
    closed_until_ms: int = -1


@dataclass
class Resampler:
    """Aggregates readings into step buckets and closes a site's bucket by event time.

    A bucket ``[t, t + step)`` closes once the newest reading of its site is at least
    ``lateness`` past ``t + step``; its mean is then final and readings for it are *too
    late*. Duplicates are readings whose (quantity, sensor, ts) an open bucket has already
    seen; memory is bounded by the open buckets. Gaps in a series (on its own cadence) are
    interpolated up to ``max_gap_ms[quantity]`` long. :meth:`export` and :meth:`restore` move a
    site's state to and from JSON-ready data, so a restarted worker resumes exactly.
    """

    step_ms: int
    lateness_ms: int
    max_gap_ms: dict[str, float] = field(default_factory=dict)
    _sites: dict[str, _SiteState] = field(default_factory=lambda: defaultdict(_SiteState))

    def admit(self, batch: ReadingBatch) -> tuple[np.ndarray, np.ndarray]:
        """Admit readings, message by message (``batch.message``) in order.

        A message's readings close the steps they leave behind before the next message
        is admitted, exactly as if each message came in a batch of its own.

        Returns:
            ``open``: false where the reading's step had closed (too late);
            ``first``: false where an open step had already seen the reading (duplicate).
            Admitted readings are those with both true.
        """
        step = self.step_ms
        n = len(batch)
        is_open = np.ones(n, dtype=bool)
        first = np.ones(n, dtype=bool)
        newest: dict[str, int] = {}
        current = batch.message[0] if n else 0
        for i, (site_id, sensor, quantity, ts, message) in enumerate(
            zip(
                batch.site_id,
                batch.sensor_id,
                batch.quantity,
                batch.ts_ms,
                batch.message,
                strict=True,
            )
        ):
            if message != current:
                for site, newest_ts in newest.items():
                    self._close(site, newest_ts)
                newest.clear()
                current = message
            state = self._sites[site_id]
            start = ts - ts % step
            if start < state.closed_until_ms:
                is_open[i] = False
                continue
            seen = state.keys.setdefault(start, {}).setdefault((quantity, sensor), set())
            if ts in seen:
                first[i] = False
                continue
            seen.add(ts)
            if ts > newest.get(site_id, -1):
                newest[site_id] = ts
        for site_id, ts in newest.items():
            self._close(site_id, ts)
        return is_open, first

    def _close(self, site_id: str, newest_ts: int) -> None:
        state = self._sites[site_id]
        state.watermark_ms = max(state.watermark_ms, newest_ts)
        horizon = state.watermark_ms - self.lateness_ms - self.step_ms
        for start in [t for t in state.keys if t <= horizon]:
            del state.keys[start]
            state.closing.add(start)
            state.closed_until_ms = max(state.closed_until_ms, start + self.step_ms)

    def aggregate(self, batch: ReadingBatch, flags: np.ndarray) -> Aggregation:
        """Add admitted readings (with their quality flags) and emit the closed steps."""
        step = self.step_ms
        groups: dict[tuple[str, str, int], list[float]] = {}
        for site_id, quantity, ts, value, flag in zip(
            batch.site_id, batch.quantity, batch.ts_ms, batch.value, flags.tolist(), strict=True
        ):
            acc = groups.setdefault((site_id, quantity, ts - ts % step), [0.0, 0, 0, 0])
            if flag == Flag.OK:
                acc[0] += value
                acc[1] += 1
            else:
                acc[2] += 1
                acc[3] = int(acc[3]) | 1 << flag
        increments = []
        for (site_id, quantity, start), (total, count, flagged, mask) in groups.items():
            increments.append(
                BucketIncrement(site_id, quantity, start, total, int(count), int(flagged))
            )
            bucket = self._sites[site_id].buckets.setdefault(start, {})
            acc = bucket.setdefault(quantity, [0.0, 0, 0, 0])
            if len(acc) < 4:  # saved before flags were kept
                acc.append(0)
            acc[0] += total
            acc[1] += count
            acc[2] += flagged
            acc[3] = int(acc[3]) | int(mask)
        closed: list[ClosedStep] = []
        gaps: list[FilledGap] = []
        for site_id, state in self._sites.items():
            for start in sorted(state.closing):
                step_closed = _closed_step(site_id, start, state.buckets.pop(start, {}))
                gaps.extend(self._fill_gaps(state, step_closed))
                closed.append(step_closed)
            state.closing.clear()
        return Aggregation(increments, closed, gaps)

    def _fill_gaps(self, state: _SiteState, step: ClosedStep) -> list[FilledGap]:
        """Find the missing samples before a step, on the series' own cadence.

        The cadence of a series is the shortest spacing seen between its steps (hourly
        data in 15-minute steps has a cadence of one hour: its empty quarter-hours are not
        gaps). Samples missing on that grid form a gap.
        """
        filled = []
        for quantity, value in step.values.items():
            before = state.last_value.get(quantity)
            if before is not None and before[0] >= step.ts_ms:
                continue  # an older step closing late (out-of-order sites): no gap logic
            if before is not None:
                spacing = step.ts_ms - before[0]
                cadence = state.cadence.get(quantity, spacing)
                if spacing <= cadence:  # the common case: no sample missing
                    state.cadence[quantity] = spacing
                else:
                    max_gap = self.max_gap_ms.get(quantity, 0.0)
                    fill = fill_gap(before, (step.ts_ms, value), cadence, max_gap)
                    if fill.steps:
                        filled.append(FilledGap(step.site_id, quantity, fill))
            state.last_value[quantity] = (step.ts_ms, value)
        return filled

    def export(self, site_id: str) -> dict[str, Any]:
        """A site's state as JSON-ready data."""
        state = self._sites[site_id]
        return {
            "watermark_ms": state.watermark_ms,
            "closed_until_ms": state.closed_until_ms,
            "buckets": {str(t): b for t, b in state.buckets.items()},
            "seen": {str(t): _compact(t, k) for t, k in state.keys.items()},
            "last_value": {q: list(tv) for q, tv in state.last_value.items()},
            "cadence": state.cadence,
        }

    def forget(self, site_id: str) -> None:
        """Drop a site's state from memory (its last export restores it exactly)."""
        self._sites.pop(site_id, None)

    def sites(self) -> int:
        """How many sites have state in memory."""
        return len(self._sites)

    def restore(self, site_id: str, data: dict[str, Any]) -> None:
        """Replace a site's state by exported data."""
        self._sites[site_id] = _SiteState(
            buckets={
                int(t): {q: list(acc) for q, acc in b.items()} for t, b in data["buckets"].items()
            },
            keys=_expand(data),
            last_value={q: (int(t), float(v)) for q, (t, v) in data["last_value"].items()},
            cadence={q: int(c) for q, c in data["cadence"].items()},
            watermark_ms=int(data["watermark_ms"]),
            closed_until_ms=int(data["closed_until_ms"]),
        )


def _compact(start: int, keys: dict[tuple[str, str], set[int]]) -> dict[str, list[int]]:
    """An open step's seen keys as ``quantity<US>sensor`` -> sorted offsets from its start."""
    return {
        f"{quantity}\x1f{sensor}": sorted(ts - start for ts in seen)
        for (quantity, sensor), seen in sorted(keys.items())
    }


def _expand(data: dict[str, Any]) -> dict[int, dict[tuple[str, str], set[int]]]:
    """The seen keys of exported state (compact, or the earlier list of triples)."""
    keys: dict[int, dict[tuple[str, str], set[int]]] = {}
    if "keys" in data:
        for t, triples in data["keys"].items():
            step = keys[int(t)] = {}
            for quantity, sensor, ts in triples:
                step.setdefault((quantity, sensor), set()).add(int(ts))
        return keys
    for t, series in data["seen"].items():
        start = int(t)
        step = keys[start] = {}
        for name, offsets in series.items():
            quantity, sensor = name.split("\x1f", 1)
            step[(quantity, sensor)] = {start + int(offset) for offset in offsets}
    return keys


def _closed_step(site_id: str, start: int, per_quantity: dict[str, list[float]]) -> ClosedStep:
    return ClosedStep(
        site_id,
        start,
        {q: acc[0] / acc[1] for q, acc in per_quantity.items() if acc[1]},
        {q: int(acc[1]) for q, acc in per_quantity.items()},
        {q: int(acc[2]) for q, acc in per_quantity.items() if acc[2]},
        {
            q: tuple(f.label for f in Flag if f and int(acc[3]) & 1 << f)
            for q, acc in per_quantity.items()
            if len(acc) > 3 and acc[3]
        },
    )
