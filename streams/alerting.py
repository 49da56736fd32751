"""Alerting stage: PM2.5 AQI incidents from fused steps, published once per change."""

from gridbrain.settings import Settings
from processors.alerting.lifecycle import ThresholdAlerts
from processors.alerting.pm25 import describe, pm25_usg_rule
from processors.timestamps import ms_to_datetime
from storage.repositories import add_alert_events, open_alerts
from storage.transaction import BatchTransaction
from streams.envelope import DeadLetters, Emission, RawMessage, encode, fused_steps
from streams.topics import ALERTS

__all__ = ["AlertingStage"]


class AlertingStage:
    """Evaluates the alert rules on each fused step, in event-time order per site."""

    def __init__(self, settings: Settings) -> None:
        self._rule = pm25_usg_rule(settings.pm25_alert_for_steps)
        self.reset()

    def reset(self) -> None:
        """Forget the in-memory incidents; open ones are reloaded from the database."""
        self._alerts = ThresholdAlerts(self._rule)
        self._restored = False

    def handle(self, tx: BatchTransaction, messages: list[RawMessage]) -> list[Emission]:
        """Evaluate a batch; store every state change, publish firing and resolving."""
        if not self._restored:
            for site_id, started, state, peak in open_alerts(tx.session, self._rule.name):
                self._alerts.restore(site_id, started, state, peak)
            self._restored = True
        changes = []
        dead = DeadLetters()
        for step in fused_steps(tx, messages, dead):
            value = step.values.get(self._rule.quantity)
            if value is not None:
                changes.extend(self._alerts.evaluate(step.site_id, step.ts_ms, value))
        events = [(event, describe(event)) for event in changes]
        add_alert_events(tx.session, events)
        tx.counts[(ALERTS, "state_changes")] += len(events)
        published = [
            Emission(
                ALERTS,
                event.site_id.encode(),
                encode(
                    {
                        "site_id": event.site_id,
                        "rule": event.rule,
                        "severity": event.severity,
                        "state": str(event.state),
                        "started_at": ms_to_datetime(event.started_at_ms).isoformat(),
                        "at": ms_to_datetime(event.at_ms).isoformat(),
                        "value": event.value,
                        "message": message,
                    }
                ),
            )
            for event, message in events
            if event.notify
        ]
        tx.counts[(ALERTS, "published")] += len(published)
        return dead.store(tx.session) + published
