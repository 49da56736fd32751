"""The life of one incident: inactive -> pending -> firing -> resolved (Alertmanager's).

A breach starts a *pending* incident; it *fires* once the breach has lasted the rule's
``for``; a pending incident whose breach ends is dropped (*inactive*, never notified). A
firing incident stays firing while the value is between the threshold and the recovery
threshold (hysteresis), and resolves once it has been recovered for ``keep_firing_for``.
A missing value never resolves anything: the incident is marked *no data* until values
come back. Evaluations are in event time; one not newer than the last is ignored
(redelivered input).
"""

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from gridbrain.processors.alerting.rules import Rule

__all__ = ["AlertState", "Change", "Incident", "evaluate", "with_notify"]


class AlertState(StrEnum):
    """States of an incident."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass
class Incident:
    """One incident of a rule for one label set (its dedup key).

    Attributes:
        key: the dedup key (rule name and labels).
        labels: the labels (alertname, site_id, quantity, severity and the rule's own).
        state: pending or firing while open; inactive or resolved once closed.
        started_at_ms: when the breach began.
        last_eval_ms: the last evaluation's time.
        value: the last value; peak: the worst value of the incident.
        fired_at_ms / resolved_at_ms: when it fired / resolved.
        recovering_since_ms: when the value got back past the recovery threshold.
        no_data: the last evaluation had no value.
        notified: the last state a notification went out for (None: none yet).
        last_notified_ms: when that was (event time).
        silenced / inhibited: whether notifications are muted now, and why.
        expected_at_ms: forecast rules: when the forecast crosses the threshold.
        message: the rendered message of the last change.
    """

    key: str
    labels: dict[str, str]
    state: AlertState
    started_at_ms: int
    last_eval_ms: int
    value: float
    peak: float
    fired_at_ms: int | None = None
    resolved_at_ms: int | None = None
    recovering_since_ms: int | None = None
    no_data: bool = False
    notified: AlertState | None = None
    last_notified_ms: int | None = None
    silenced: bool = False
    inhibited: bool = False
    expected_at_ms: int | None = None
    message: str = ""

    @property
    def is_open(self) -> bool:
        """Pending or firing."""
        return self.state in (AlertState.PENDING, AlertState.FIRING)

    def export(self) -> dict[str, Any]:
        """JSON-ready state."""
        return asdict(self)

    def snapshot(self) -> "Incident":
        """A copy as it is now (``dataclasses.replace`` without changes, faster)."""
        copy = object.__new__(Incident)
        copy.__dict__.update(self.__dict__)
        return copy

    @classmethod
    def restore(cls, data: dict[str, Any]) -> "Incident":
        """Inverse of :meth:`export`."""
        notified = data.get("notified")
        return cls(
            **{
                **data,
                "state": AlertState(data["state"]),
                "notified": None if notified is None else AlertState(notified),
            }
        )


@dataclass(frozen=True)
class Change:
    """One entry of an incident's state history.

    Attributes:
        incident: the incident after the change (a snapshot).
        state: the state it is in after the change.
        at_ms: when (event time of the evaluation).
        value: the value evaluated (None: no data).
        reason: ``breach``, ``for_elapsed``, ``dropped``, ``recovered``, ``no_data``,
            ``data_back``, ``repeat``, ``unmuted``.
        notify: whether a notification goes out for it.
    """

    incident: Incident
    state: AlertState
    at_ms: int
    value: float | None
    reason: str
    notify: bool


def _change(incident: Incident, at_ms: int, value: float | None, reason: str) -> Change:
    notify = reason in ("for_elapsed", "recovered", "repeat")
    return Change(incident.snapshot(), incident.state, at_ms, value, reason, notify)


def evaluate(
    rule: Rule,
    incident: Incident | None,
    key: str,
    labels: dict[str, str],
    at_ms: int,
    value: float | None,
) -> tuple[Incident | None, list[Change]]:
    """Feed one evaluation; return the open incident (or None) and the changes made.

    Notifications are decided here before silences and inhibition (see the engine).
    """
    if incident is not None and at_ms <= incident.last_eval_ms:
        return incident, []
    if value is None:
        if incident is None or incident.no_data:
            return incident, []
        incident.no_data, incident.last_eval_ms = True, at_ms
        return incident, [_change(incident, at_ms, None, "no_data")]
    changes: list[Change] = []
    if incident is None:
        if not rule.breached(value):
            return None, []
        incident = Incident(key, labels, AlertState.PENDING, at_ms, at_ms, value, value)
        changes.append(_change(incident, at_ms, value, "breach"))
    elif incident.no_data:
        incident.no_data = False
        changes.append(_change(incident, at_ms, value, "data_back"))
    incident.last_eval_ms, incident.value = at_ms, value
    incident.peak = max(incident.peak, value) if rule.op == ">" else min(incident.peak, value)
    if incident.state is AlertState.PENDING:
        if not rule.breached(value):
            incident.state = AlertState.INACTIVE
            return None, [*changes, _change(incident, at_ms, value, "dropped")]
        if at_ms - incident.started_at_ms >= rule.for_ms:
            incident.state, incident.fired_at_ms = AlertState.FIRING, at_ms
            changes.append(_change(incident, at_ms, value, "for_elapsed"))
        return incident, changes
    if not rule.recovered(value):
        incident.recovering_since_ms = None
        last = incident.last_notified_ms
        repeat = rule.repeat_interval_ms
        due = repeat is not None and last is not None and at_ms - last >= repeat
        if due and incident.notified is AlertState.FIRING:
            changes.append(_change(incident, at_ms, value, "repeat"))
        return incident, changes
    if incident.recovering_since_ms is None:
        incident.recovering_since_ms = at_ms
    if at_ms - incident.recovering_since_ms < rule.keep_firing_for_ms:
        return incident, changes
    incident.state, incident.resolved_at_ms = AlertState.RESOLVED, at_ms
    return None, [*changes, _change(incident, at_ms, value, "recovered")]


def with_notify(change: Change, incident: Incident, muted: bool) -> Change:
    """``change`` with whether receivers hear of it.

    A mute holds back firing; a resolution goes only to receivers that heard it fire.
    """
    if not change.notify:
        return change
    if change.state is AlertState.RESOLVED:
        notify = incident.notified is AlertState.FIRING  # receivers heard it fire
    else:
        notify = not muted
    return Change(change.incident, change.state, change.at_ms, change.value, change.reason, notify)
