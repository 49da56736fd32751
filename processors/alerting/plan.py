"""One rule's expression over a batch of a site's steps, and where its incident can change.

Between those steps an evaluation only moves an open incident's value and peak, so the
engine judges an incident step by step only there (see :mod:`bulk`).
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from gridbrain.processors.alerting.lifecycle import AlertState, Incident
from gridbrain.processors.alerting.rules import Rule

__all__ = ["RulePlan"]


@dataclass
class RulePlan:
    """One rule's expression at each step of a batch, and where its incident can change.

    Attributes:
        rule: the rule.
        ts: the steps' times.
        applies: the steps the rule is evaluated at (sorted indices).
        values: the expression at each step (None: no data).
        categories: the AQI category at each step (``aqi`` rules; else empty).
    """

    rule: Rule
    ts: list[int]
    applies: list[int]
    values: list[float | None]
    categories: list[str]
    _breached: list[int] = field(default_factory=list)
    _not_breached: list[int] = field(default_factory=list)  # or no data
    _recovered: list[int] = field(default_factory=list)  # or no data
    _valued: list[int] = field(default_factory=list)

    @classmethod
    def of(
        cls, rule: Rule, ts: list[int], applies: np.ndarray, values: np.ndarray, cats: list[str]
    ) -> "RulePlan":
        """The plan of ``values`` (NaN: no data) where ``applies``."""
        valued = applies & ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            if rule.op == ">":
                breached, recovered = values > rule.threshold, values <= rule.recovers_at
            else:
                breached, recovered = values < rule.threshold, values >= rule.recovers_at
        return cls(
            rule,
            ts,
            np.flatnonzero(applies).tolist(),
            _or_none(values),
            cats,
            np.flatnonzero(valued & breached).tolist(),
            np.flatnonzero(applies & ~(valued & breached)).tolist(),
            np.flatnonzero(applies & ~(valued & ~recovered)).tolist(),
            np.flatnonzero(valued).tolist(),
        )

    def category(self, i: int) -> str:
        """The message's ``category`` at step ``i``."""
        return self.categories[i] if self.categories else ""

    def next_change(self, incident: Incident | None, start: int) -> int:
        """The first step from ``start`` whose evaluation may change ``incident``.

        Any other evaluation keeps its state: none opens, or an open one moves its value
        and peak only (:meth:`advance`). ``len(ts)`` when there is none.
        """
        if incident is None:
            return _first(self._breached, start, len(self.ts))
        rule, end = self.rule, len(self.ts)
        if start < end and self.ts[start] <= incident.last_eval_ms:
            at = _first(self.applies, start, end)  # judged again: the lifecycle ignores it
            if at < bisect_right(self.ts, incident.last_eval_ms):
                return at
        if incident.state is AlertState.FIRING and incident.notified is None:
            return _first(self.applies, start, end)  # may be unmuted
        if incident.no_data:
            return _first(self._valued, start, end)
        if incident.state is AlertState.PENDING:
            fires = bisect_left(self.ts, incident.started_at_ms + rule.for_ms, lo=start)
            return min(_first(self._not_breached, start, end), _first(self.applies, fires, end))
        change = _first(self._recovered, start, end)
        last, repeat = incident.last_notified_ms, rule.repeat_interval_ms
        if repeat is not None and last is not None and incident.notified is AlertState.FIRING:
            due = bisect_left(self.ts, last + repeat, lo=start)
            change = min(change, _first(self.applies, due, end))
        return change

    def first(self, start: int) -> int:
        """The first step from ``start`` the rule is evaluated at."""
        return _first(self.applies, start, len(self.ts))

    def advance(self, incident: Incident, start: int, stop: int) -> int | None:
        """Apply the evaluations of steps [start, stop) that change nothing but values.

        Returns the last step evaluated (None: none).
        """
        first, after = bisect_left(self.applies, start), bisect_left(self.applies, stop)
        if first == after:
            return None
        last = self.applies[after - 1]
        if incident.no_data:
            return last  # no value: nothing moves
        span = cast("list[float]", [self.values[i] for i in self.applies[first:after]])
        incident.last_eval_ms, incident.value = self.ts[last], span[-1]
        if self.rule.op == ">":  # max(peak, value) step by step: the first of the largest
            incident.peak = max(incident.peak, max(span))
        else:
            incident.peak = min(incident.peak, min(span))
        if incident.state is AlertState.FIRING:
            incident.recovering_since_ms = None
        incident.expected_at_ms = None
        return last


def _or_none(values: np.ndarray) -> list[float | None]:
    """The values as floats, None where NaN."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


def _first(indices: list[int], start: int, end: int) -> int:
    at = bisect_left(indices, start)
    return indices[at] if at < len(indices) else end
