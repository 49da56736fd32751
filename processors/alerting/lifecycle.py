"""Threshold alerts with a lifecycle: inactive -> pending -> firing -> resolved.

A breach must last ``for_steps`` consecutive evaluations before the alert fires; it
resolves only when the value falls below the recovery threshold (hysteresis), so a value
hovering around the threshold does not flap. Missing evaluations do not resolve an alert.
"""

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["AlertEvent", "AlertRule", "AlertState", "ThresholdAlerts"]


class AlertState(StrEnum):
    """States of an incident."""

    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertRule:
    """A threshold rule on one quantity.

    Attributes:
        name: rule name, part of the incident key.
        quantity: quantity evaluated.
        threshold: the alert is breached at or above this value.
        recovery: it recovers below this value (<= threshold).
        for_steps: consecutive breached evaluations before firing.
        severity: severity label of the incident.
    """

    name: str
    quantity: str
    threshold: float
    recovery: float
    for_steps: int
    severity: str


@dataclass(frozen=True)
class AlertEvent:
    """A change of an incident's state.

    Attributes:
        site_id: the site.
        rule: the rule's name.
        severity: severity of the rule.
        state: the new state.
        started_at_ms: when the breach began (identifies the incident).
        at_ms: when this change happened (event time).
        value: the value that caused the change (peak value when resolving).
        notify: whether this change is published (firing and resolving, not pending).
    """

    site_id: str
    rule: str
    severity: str
    state: AlertState
    started_at_ms: int
    at_ms: int
    value: float
    notify: bool


@dataclass
class _Incident:
    started_at_ms: int
    breached_steps: int
    state: AlertState
    peak: float


@dataclass
class ThresholdAlerts:
    """Evaluates one rule for many sites, in event-time order per site."""

    rule: AlertRule
    _open: dict[str, _Incident] = field(default_factory=dict)
    _last_ms: dict[str, int] = field(default_factory=dict)

    def restore(self, site_id: str, started_at_ms: int, state: AlertState, peak: float) -> None:
        """Reload an open incident (after a restart)."""
        steps = self.rule.for_steps if state is AlertState.FIRING else 1
        self._open[site_id] = _Incident(started_at_ms, steps, state, peak)

    def evaluate(self, site_id: str, ts_ms: int, value: float) -> list[AlertEvent]:
        """Feed one value; return the state changes it causes (possibly none).

        A value not newer than the site's last one (a redelivered step) changes nothing.
        """
        if ts_ms <= self._last_ms.get(site_id, -1):
            return []
        self._last_ms[site_id] = ts_ms
        rule = self.rule
        incident = self._open.get(site_id)
        if incident is None:
            if value < rule.threshold:
                return []
            incident = _Incident(ts_ms, 0, AlertState.PENDING, value)
            self._open[site_id] = incident
            events = [self._event(site_id, incident, ts_ms, value, notify=False)]
        else:
            events = []
        incident.peak = max(incident.peak, value)
        if value >= rule.threshold:
            incident.breached_steps += 1
        elif incident.state is AlertState.PENDING:
            # The breach ended before it lasted long enough: drop silently.
            del self._open[site_id]
            return [self._event(site_id, incident, ts_ms, value, AlertState.RESOLVED, False)]
        elif value < rule.recovery:
            del self._open[site_id]
            return [
                *events,
                self._event(site_id, incident, ts_ms, incident.peak, AlertState.RESOLVED, True),
            ]
        if incident.state is AlertState.PENDING and incident.breached_steps >= rule.for_steps:
            incident.state = AlertState.FIRING
            events.append(self._event(site_id, incident, ts_ms, value, notify=True))
        return events

    def _event(
        self,
        site_id: str,
        incident: _Incident,
        ts_ms: int,
        value: float,
        state: AlertState | None = None,
        notify: bool = False,
    ) -> AlertEvent:
        return AlertEvent(
            site_id,
            self.rule.name,
            self.rule.severity,
            state or incident.state,
            incident.started_at_ms,
            ts_ms,
            value,
            notify,
        )
