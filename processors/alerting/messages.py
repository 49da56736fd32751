"""The messages of incidents: a rule's template filled with the incident's latest values."""

from gridbrain.processors.alerting.lifecycle import AlertState, Incident
from gridbrain.processors.alerting.rules import Rule
from gridbrain.processors.alerting.series import HOUR_MS
from gridbrain.processors.quantities import QUANTITIES
from gridbrain.processors.timestamps import ms_to_datetime

__all__ = ["render"]


def render(rule: Rule, incident: Incident, at_ms: int, category: str) -> str:
    """The rule's message for the incident's latest value.

    A resolved incident takes the rule's ``resolved_message``; without one, its
    ``message`` of the peak value, prefixed with ``resolved:``.
    """
    expected_in = expected_at = ""
    if incident.expected_at_ms is not None:
        expected_in = _lead(incident.expected_at_ms - at_ms)
        expected_at = ms_to_datetime(incident.expected_at_ms).strftime("%Y-%m-%d %H:%M UTC")
    fields = {
        "rule": rule.name,
        "site_id": incident.labels["site_id"],
        "quantity": rule.quantity,
        "value": incident.value,
        "peak": incident.peak,
        "threshold": rule.threshold,
        "unit": QUANTITIES[rule.quantity].unit if rule.quantity else "",
        "category": category,
        "expected_in": expected_in,
        "expected_at": expected_at,
        "state": str(incident.state),
    }
    if incident.state is not AlertState.RESOLVED:
        text = rule.message.format(**fields)
        return f"{text} (no data)" if incident.no_data else text
    if rule.resolved_message is not None:
        return rule.resolved_message.format(**fields)
    return "resolved: " + rule.message.format(**{**fields, "value": incident.peak})


def _lead(ms: int) -> str:
    """A lead time as people say it.

    >>> _lead(0), _lead(15 * 60_000), _lead(6 * HOUR_MS + 10 * 60_000)
    ('now', 'in about 15 min', 'in about 6 h')
    """
    if ms <= 0:
        return "now"
    return f"in about {ms / 60_000:.0f} min" if ms < HOUR_MS else f"in about {ms / HOUR_MS:.0f} h"
