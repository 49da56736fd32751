"""The alert engine: evaluates every rule on fused steps, forecasts and dead letters.

It keeps, per site, the last day of hourly means of each quantity, when each quantity
was last seen, the site's recent dead letters and accepted readings, and the site's open
incidents: all of it exports to JSON, so a worker restart resumes where it left off.
Sensor-health rules are evaluated before the others on each step, so an inhibition by a
stale or flat-lined sensor applies to the same step's air-quality alerts.

Evaluations are in event time. A site that stops reporting altogether produces no step to
judge it by, so :meth:`AlertEngine.on_tick` judges staleness by the wall clock too: while
a *live* site (its newest step arrived within a lag of its event time) is silent, its
event time is taken to advance with the wall clock since that arrival. Replayed history
is never live.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from gridbrain.processors.alerting import bulk
from gridbrain.processors.alerting.lifecycle import (
    AlertState,
    Change,
    Incident,
    evaluate,
    with_notify,
)
from gridbrain.processors.alerting.matchers import Silence, inhibited, silenced
from gridbrain.processors.alerting.messages import render
from gridbrain.processors.alerting.plan import RulePlan
from gridbrain.processors.alerting.rules import Rule, RuleSet
from gridbrain.processors.alerting.series import HOUR_MS, HourlySeries
from gridbrain.processors.alerting.site_state import DeadLetterId, ForecastIssue, SiteState, push
from gridbrain.processors.fuse import FusedStep

__all__ = ["AlertEngine", "DeadLetterId", "ForecastIssue", "dedup_key"]

_HEALTH = ("stale", "flatline", "deadletter_ratio")
_BULK_FROM = 8  # fewer new steps of a site: judged one by one (cheaper)


def dedup_key(labels: dict[str, str]) -> str:
    """``alertname{label="value",...}`` with the other labels sorted (Prometheus style).

    >>> dedup_key({"alertname": "pm25_high", "site_id": "s1", "quantity": "pm25"})
    'pm25_high{quantity="pm25",site_id="s1"}'
    """
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "alertname")
    return f"{labels['alertname']}{{{rest}}}"


class AlertEngine:
    """Evaluates a rule set for many sites.

    Args:
        rules: the rules and inhibition rules.
    """

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        ordered = sorted(rules.rules, key=lambda r: r.expression not in _HEALTH)
        self._step_rules = [r for r in ordered if r.expression != "forecast"]
        self._forecast_rules = [r for r in ordered if r.expression == "forecast"]
        self._ratio_rules = [r for r in ordered if r.expression == "deadletter_ratio"]
        self._stale_rules = [r for r in ordered if r.expression == "stale"]
        self._sites: dict[str, SiteState] = {}
        self._labels: dict[tuple[str, str], tuple[dict[str, str], str]] = {}
        self._aqi: dict[tuple[int, int, str], tuple[int, str] | None] = {}  # this step's
        self._touched: dict[str, Incident] = {}  # open incidents evaluated since taken
        # Open incidents evaluated in bulk whose message (and mutes) are not set yet:
        # key -> (rule, when, AQI category, wall clock) of their last evaluation, and
        # whether the mutes are set (before anything else at the site fired or resolved).
        self._unset: dict[str, tuple[Rule, int, str, int, bool]] = {}
        self.silences: list[Silence] = []

    def knows(self, site_id: str) -> bool:
        """Whether the site's state is loaded."""
        return site_id in self._sites

    def restore(self, site_id: str, data: dict[str, Any] | None) -> None:
        """Load a site's exported state (None: a new site)."""
        self._sites[site_id] = SiteState.restore(data) if data else SiteState()

    def export(self, site_id: str) -> dict[str, Any]:
        """A site's state as JSON-ready data."""
        return self._sites[site_id].export()

    def take_touched(self) -> list[Incident]:
        """Snapshots of the open incidents evaluated since the last call (latest values)."""
        touched = [i.snapshot() for i in self._touched.values()]
        self._touched.clear()
        return touched

    def open_incidents(self) -> list[Incident]:
        """Every pending or firing incident."""
        return [i for s in self._sites.values() for i in s.incidents.values()]

    def on_step(self, step: FusedStep, now_ms: int) -> list[Change]:
        """Evaluate the step rules of the step's site at the step's time.

        A site's steps arrive in time order (the cleaning stage emits each closed step
        once, in order); a step at or before the newest one seen is a redelivery and is
        ignored, so the hourly series and counts never take a step twice.
        """
        site = self._sites.setdefault(step.site_id, SiteState())
        ts = step.ts_ms
        if ts <= site.watermark_ms:
            return []
        self._aqi.clear()
        site.watermark_ms = max(site.watermark_ms, ts)
        site.arrived_ms = now_ms
        for quantity in step.quality:
            site.seen_ms[quantity] = max(site.seen_ms.get(quantity, ts), ts)
        for quantity, mean in step.values.items():
            site.series.setdefault(quantity, HourlySeries()).add(ts, mean)
        if step.readings:
            push(site.accepted, now_ms, step.readings)
        changes: list[Change] = []
        for rule in self._step_rules:
            if rule.expression == "deadletter_ratio":
                changes += self._ratio(step.site_id, site, rule, now_ms)
                continue
            if rule.expression != "stale" and rule.quantity not in step.quality:
                continue  # this step holds nothing of the quantity: nothing to judge
            if rule.expression == "stale" and rule.quantity not in site.seen_ms:
                continue
            value = self._value(rule, site, step)
            changes += self._evaluate(step.site_id, site, rule, ts, value, now_ms)
        return changes

    def on_steps(self, site_id: str, steps: Sequence[FusedStep], now_ms: int) -> list[Change]:
        """Evaluate a site's steps of one batch (time order): :meth:`on_step` of each.

        The rules' expressions are computed for all the steps at once, and an incident is
        judged step by step only where its state may change; in between, an evaluation
        moves its value and peak only, and its message and mutes are set as of its last
        evaluation before anything else at the site changes state.
        """
        site = self._sites.setdefault(site_id, SiteState())
        fresh, newest = [], site.watermark_ms
        for step in steps:
            if step.ts_ms > newest:
                fresh.append(step)
                newest = step.ts_ms
        plans = None
        if len(fresh) >= _BULK_FROM:
            plans = bulk.prepare(site, fresh, self._step_rules, now_ms)
        if plans is None:
            return [c for step in fresh for c in self.on_step(step, now_ms)]
        keys = [self._labels_of(p.rule, site_id)[1] for p in plans]
        live = [i for i, (p, k) in enumerate(zip(plans, keys, strict=True)) if p.applies]
        plans, keys = [plans[i] for i in live], [keys[i] for i in live]
        order: dict[str, tuple[int, int]] = {}  # touched anew: (step, rule) of the first time
        due = [p.next_change(site.incidents.get(k), 0) for p, k in zip(plans, keys, strict=True)]
        changes: list[Change] = []
        done, end = 0, len(fresh)
        while done < end:
            at = min(due, default=end)
            self._advance(site, plans, keys, done, at, now_ms, order)
            if at == end:
                break
            for rank, (plan, key) in enumerate(zip(plans, keys, strict=True)):
                if due[rank] != at:
                    if key in site.incidents:
                        self._advance(site, [plan], [key], at, at + 1, now_ms, order, rank)
                    continue
                self._unset.pop(key, None)  # judged in full now
                had = key in self._touched
                firing = self._firing(site)
                value, category = plan.values[at], plan.category(at)
                changes += self._evaluate(
                    site_id, site, plan.rule, plan.ts[at], value, now_ms, None, category
                )
                if self._unset and firing != self._firing(site):
                    self._mute_unset(site_id, site, firing)
                if key not in self._touched:
                    order.pop(key, None)
                elif not had:
                    order[key] = (at, rank)
                due[rank] = plan.next_change(site.incidents.get(key), at + 1)
            done = at + 1
        self._mute_unset(site_id, site, self._firing(site))
        for key, (rule, at_ms, category, _, _) in self._unset.items():
            incident = site.incidents[key]
            incident.message = render(rule, incident, at_ms, category)
        self._unset.clear()
        if order:  # as one by one: first evaluated first
            kept = [(k, i) for k, i in self._touched.items() if k not in order]
            anew = sorted(order, key=order.__getitem__)
            self._touched = dict(kept + [(k, self._touched[k]) for k in anew])
        return changes

    def _advance(
        self,
        site: SiteState,
        plans: list[RulePlan],
        keys: list[str],
        start: int,
        stop: int,
        now_ms: int,
        order: dict[str, tuple[int, int]],
        rank: int = 0,
    ) -> None:
        """Apply the evaluations of steps [start, stop) that change no incident's state."""
        for offset, (plan, key) in enumerate(zip(plans, keys, strict=True)):
            incident = site.incidents.get(key)
            if incident is None:
                continue
            last = plan.advance(incident, start, stop)
            if last is not None:
                self._unset[key] = (plan.rule, plan.ts[last], plan.category(last), now_ms, False)
                if key not in self._touched:
                    order[key] = (plan.first(start), rank + offset)
                    self._touched[key] = incident

    @staticmethod
    def _firing(site: SiteState) -> dict[str, dict[str, str]]:
        return {k: i.labels for k, i in site.incidents.items() if i.state is AlertState.FIRING}

    def _mute_unset(self, site_id: str, site: SiteState, firing: dict[str, dict[str, str]]) -> None:
        """Set the mutes of the incidents evaluated in bulk, ``firing`` being what fired then."""
        for key, (rule, at_ms, category, now_ms, done) in self._unset.items():
            if not done:
                incident = site.incidents[key]
                labels = self._labels_of(rule, site_id)[0]
                others = [f for k, f in firing.items() if k != key]
                incident.silenced = silenced(labels, self.silences, now_ms)
                incident.inhibited = inhibited(labels, others, self.rules.inhibit)
                self._unset[key] = (rule, at_ms, category, now_ms, True)

    def on_tick(self, site_ids: Iterable[str], now_ms: int, live_lag_ms: int) -> list[Change]:
        """Judge the staleness of silent live sites by the wall clock (``now_ms``).

        A site is live when its newest step arrived at most ``live_lag_ms`` after its
        event time. Its staleness is evaluated at its watermark plus the wall-clock time
        since that step arrived, so a sensor that stops sending anything goes stale like
        one whose site still reports other quantities.
        """
        changes: list[Change] = []
        for site_id in site_ids:
            site = self._sites.get(site_id)
            if site is None or site.arrived_ms < 0:
                continue
            if site.arrived_ms - site.watermark_ms > live_lag_ms:
                continue  # replayed history: judged in event time only
            at_ms = site.watermark_ms + now_ms - site.arrived_ms
            if at_ms <= site.watermark_ms:
                continue
            for rule in self._stale_rules:
                seen = site.seen_ms.get(rule.quantity or "")
                if seen is not None:
                    value = (at_ms - seen) / HOUR_MS
                    changes += self._evaluate(site_id, site, rule, at_ms, value, now_ms)
        return changes

    def on_forecast(self, issue: ForecastIssue, now_ms: int) -> list[Change]:
        """Evaluate the forecast rules on a newly issued forecast."""
        site = self._sites.setdefault(issue.site_id, SiteState())
        changes: list[Change] = []
        for rule in self._forecast_rules:
            if rule.quantity != issue.quantity or rule.model not in (None, issue.model):
                continue
            values = issue.quantiles.get(rule.quantile)
            if not values:
                continue
            crossing = next((i for i, v in enumerate(values) if rule.breached(v)), None)
            worst = max(values) if rule.op == ">" else min(values)
            value = worst if crossing is None else values[crossing]
            expected = None if crossing is None else issue.targets_ms[crossing]
            changes += self._evaluate(
                issue.site_id, site, rule, issue.issued_at_ms, value, now_ms, expected
            )
        return changes

    def on_dead_letters(
        self, site_id: str, letters: Iterable[DeadLetterId], now_ms: int
    ) -> list[Change]:
        """Count a site's dead letters and judge its dead-letter ratio.

        Dead letters of one source partition arrive in (epoch, offset, item) order; one at
        or before the newest seen from its partition is a redelivery and is not counted.
        """
        site = self._sites.setdefault(site_id, SiteState())
        count = 0
        for letter in letters:
            source, position = f"{letter.topic}/{letter.partition}", list(letter.position)
            if position > site.dead_seen.get(source, [-1]):
                site.dead_seen[source] = position
                count += 1
        if not count:
            return []
        push(site.dead, now_ms, count)
        changes: list[Change] = []
        for rule in self._ratio_rules:
            changes += self._ratio(site_id, site, rule, now_ms)
        return changes

    def _ratio(self, site_id: str, site: SiteState, rule: Rule, now_ms: int) -> list[Change]:
        since = now_ms - rule.window_ms
        dead = sum(n for t, n in site.dead if t > since)
        total = dead + sum(n for t, n in site.accepted if t > since)
        for window in (site.dead, site.accepted):
            while window and window[0][0] <= now_ms - 24 * HOUR_MS:
                window.popleft()
        value = dead / total if total >= rule.min_count else None
        return self._evaluate(site_id, site, rule, now_ms, value, now_ms)

    def _value(self, rule: Rule, site: SiteState, step: FusedStep) -> float | None:
        quantity, ts = rule.quantity or "", step.ts_ms
        series = site.series.get(quantity, HourlySeries())
        match rule.expression:
            case "value":
                return step.values.get(quantity)
            case "mean":
                return series.mean(ts, rule.window_ms, rule.min_coverage)
            case "nowcast":
                return series.nowcast(ts, 0 if quantity == "pm10" else 1)
            case "aqi":
                assert rule.aqi_table is not None
                index = self._aqi_of(series, ts, rule.aqi_table)
                return None if index is None else float(index[0])
            case "stale":
                return (site.watermark_ms - site.seen_ms[quantity]) / HOUR_MS
            case "flatline":
                flat = "flatline" in step.flags.get(quantity, ())
                return 1.0 if flat and quantity not in step.values else 0.0
        raise AssertionError(rule.expression)  # pragma: no cover - validated rule

    def _evaluate(
        self,
        site_id: str,
        site: SiteState,
        rule: Rule,
        at_ms: int,
        value: float | None,
        now_ms: int,
        expected_at_ms: int | None = None,
        category: str | None = None,
    ) -> list[Change]:
        labels, key = self._labels_of(rule, site_id)
        before = site.incidents.get(key)
        if before is None and (value is None or not rule.breached(value)):
            return []  # the common case: nothing open, nothing breached
        incident, changes = evaluate(rule, before, key, labels, at_ms, value)
        current = incident or (changes[-1].incident if changes else None)
        if current is None:
            return []
        if value is not None:
            current.expected_at_ms = expected_at_ms
        if category is None:
            category = self._category(rule, site, at_ms)
        current.message = render(rule, current, at_ms, category)
        firing = [
            i.labels for k, i in site.incidents.items() if i.state is AlertState.FIRING and k != key
        ]
        current.silenced = silenced(labels, self.silences, now_ms)
        current.inhibited = inhibited(labels, firing, self.rules.inhibit)
        muted = current.silenced or current.inhibited
        out = [with_notify(c, current, muted) for c in changes]
        unheard = current.state is AlertState.FIRING and current.notified is None
        if unheard and not muted and not any(c.notify for c in out):  # fired while muted
            out.append(Change(current, current.state, at_ms, value, "unmuted", True))
        if any(c.notify for c in out):
            current.notified, current.last_notified_ms = current.state, at_ms
        if incident is None:
            site.incidents.pop(key, None)
            self._touched.pop(key, None)  # its last change holds its final state
        else:
            site.incidents[key] = incident
            self._touched[key] = incident
        snapshot = current.snapshot()  # later evaluations must not rewrite this batch's history
        return [Change(snapshot, c.state, c.at_ms, c.value, c.reason, c.notify) for c in out]

    def _labels_of(self, rule: Rule, site_id: str) -> tuple[dict[str, str], str]:
        """The labels and dedup key of a rule's incidents at a site (cached)."""
        cached = self._labels.get((rule.name, site_id))
        if cached is None:
            labels = {"alertname": rule.name, "site_id": site_id, "severity": rule.severity}
            if rule.quantity is not None:
                labels["quantity"] = rule.quantity
            labels.update(rule.labels)
            cached = self._labels[(rule.name, site_id)] = (labels, dedup_key(labels))
        return cached

    def _aqi_of(self, series: HourlySeries, ts: int, table: str) -> tuple[int, str] | None:
        """The AQI by ``table`` at ``ts``, computed once per step."""
        key = (id(series), ts, table)
        if key not in self._aqi:
            self._aqi[key] = series.aqi(ts, table)
        return self._aqi[key]

    def _category(self, rule: Rule, site: SiteState, at_ms: int) -> str:
        """The AQI category of an ``aqi`` rule's series at ``at_ms`` (else empty)."""
        if rule.aqi_table is None:
            return ""
        series = site.series.get(rule.quantity or "", HourlySeries())
        index = self._aqi_of(series, at_ms, rule.aqi_table)
        return index[1] if index else "no data"
