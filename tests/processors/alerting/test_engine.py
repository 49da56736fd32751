from typing import Any

from gridbrain.processors.alerting.engine import AlertEngine, DeadLetterId, ForecastIssue
from gridbrain.processors.alerting.lifecycle import Change
from gridbrain.processors.alerting.matchers import Silence, parse_matcher
from gridbrain.processors.alerting.rules import RuleSet, load_rules
from gridbrain.processors.fuse import FusedStep

H = 3_600_000
NOW = 1_800_000_000_000  # wall clock of the tests


def step(
    ts: int,
    values: dict[str, float],
    site: str = "s",
    flags: dict[str, list[str]] | None = None,
    seen: tuple[str, ...] = (),
    readings: int = 1,
) -> FusedStep:
    quality = {q: "ok" for q in values} | {q: "flagged" for q in seen}
    return FusedStep(site, ts, values, {}, None, quality, flags=flags or {}, readings=readings)


def feed(engine: AlertEngine, steps: list[FusedStep], now: int = NOW) -> list[Change]:
    return [c for s in steps for c in engine.on_step(s, now)]


def summary(changes: list[Change]) -> list[tuple[str, str, str, bool]]:
    return [(c.incident.labels["alertname"], str(c.state), c.reason, c.notify) for c in changes]


def rules(*rules: dict[str, Any], inhibit: list[dict[str, Any]] | None = None) -> RuleSet:
    return RuleSet.model_validate({"rules": list(rules), "inhibit": inhibit or []})


def test_default_pm25_aqi_rule_on_an_hourly_episode() -> None:
    engine = AlertEngine(load_rules())
    values = [10.0] * 12 + [80.0] * 6 + [5.0] * 12
    changes = feed(engine, [step(i * H, {"pm25": v}) for i, v in enumerate(values)])
    usg = [c for c in changes if c.incident.labels["alertname"] == "pm25_aqi_usg"]
    assert [(str(c.state), c.notify) for c in usg if c.notify] == [
        ("firing", True),
        ("resolved", True),
    ]
    firing = next(c for c in usg if c.notify)
    assert firing.incident.message.startswith("pm25 AQI 1")
    assert "(Unhealthy" in firing.incident.message
    # The pm25_aqi_unhealthy alert (AQI > 150) fired too and inhibits the USG one after.
    assert any(c.incident.labels["alertname"] == "pm25_aqi_unhealthy" for c in changes)


def guarded(stale: str, hours: float, equal: list[str]) -> AlertEngine:
    """``pm_high`` (PM2.5 > 50, air quality) and ``<stale>_stale`` (sensor health) muting it."""
    return AlertEngine(
        rules(
            {
                "name": "pm_high",
                "quantity": "pm25",
                "threshold": 50,
                "labels": {"category": "air_quality"},
            },
            {
                "name": f"{stale}_stale",
                "quantity": stale,
                "expression": "stale",
                "threshold": hours,
                "labels": {"category": "sensor_health"},
            },
            inhibit=[
                {
                    "source": {"category": "sensor_health"},
                    "target": {"category": "air_quality"},
                    "equal": equal,
                }
            ],
        )
    )


def test_stale_sensor_fires_and_resolves_when_it_reports_again() -> None:
    engine = guarded("pm25", 2, ["site_id", "quantity"])
    steps = [step(0, {"pm25": 10.0, "temperature": 5.0})]
    steps += [step(i * H, {"temperature": 5.0}) for i in range(1, 4)]  # pm25 silent
    changes = feed(engine, steps)
    assert summary(changes) == [
        ("pm25_stale", "pending", "breach", False),
        ("pm25_stale", "firing", "for_elapsed", True),
    ]
    assert changes[-1].incident.message.startswith("pm25_stale at s: pm25 3.0")
    # The sensor comes back reading high: the staleness resolves first (health rules are
    # evaluated first), so the pm25 alert fires uninhibited.
    changes = feed(engine, [step(4 * H, {"pm25": 90.0})])
    assert summary(changes) == [
        ("pm25_stale", "resolved", "recovered", True),
        ("pm_high", "pending", "breach", False),
        ("pm_high", "firing", "for_elapsed", True),
    ]
    changes = feed(engine, [step(5 * H, {"pm25": 90.0, "temperature": 5.0})])
    assert summary(changes) == []  # already told
    (high,) = [i for i in engine.open_incidents() if i.labels["alertname"] == "pm_high"]
    assert not high.inhibited and high.notified is not None


def test_a_live_site_gone_silent_goes_stale_by_the_wall_clock() -> None:
    engine = guarded("pm25", 2, ["site_id", "quantity"])
    # Live: each step arrives 20 minutes after its event time.
    for i in range(4):
        feed(engine, [step(NOW + i * H, {"pm25": 10.0})], now=NOW + i * H + 20 * 60_000)
    arrived = NOW + 3 * H + 20 * 60_000
    assert summary(engine.on_tick(["s"], arrived + H, 6 * H)) == []  # 1 h silent
    changes = engine.on_tick(["s"], arrived + 2 * H + 60_000, 6 * H)
    assert summary(changes) == [
        ("pm25_stale", "pending", "breach", False),
        ("pm25_stale", "firing", "for_elapsed", True),
    ]
    assert changes[-1].at_ms == NOW + 5 * H + 60_000  # the watermark plus the silence
    assert summary(engine.on_tick(["s"], arrived + 3 * H, 6 * H)) == []  # still firing
    # It reports again: resolved by the first step newer than the last judgement.
    feed(engine, [step(NOW + 6 * H, {"pm25": 10.0})], now=arrived + 3 * H)
    assert summary(feed(engine, [step(NOW + 7 * H, {"pm25": 10.0})], now=arrived + 4 * H)) == [
        ("pm25_stale", "resolved", "recovered", True),
    ]


def test_replayed_history_is_not_judged_by_the_wall_clock() -> None:
    engine = guarded("pm25", 2, ["site_id", "quantity"])
    feed(engine, [step(i * H, {"pm25": 10.0}) for i in range(3)], now=NOW)  # years ago
    assert engine.on_tick(["s", "unknown"], NOW + 10 * H, 6 * H) == []


def test_inhibited_alert_is_muted_until_the_source_resolves() -> None:
    engine = guarded("pm10", 1, ["site_id"])
    feed(engine, [step(0, {"pm25": 10.0, "pm10": 20.0}), step(H, {"pm25": 10.0})])
    changes = feed(engine, [step(2 * H, {"pm25": 80.0})])  # pm10 silent for 2 h
    assert summary(changes) == [
        ("pm10_stale", "pending", "breach", False),
        ("pm10_stale", "firing", "for_elapsed", True),
        ("pm_high", "pending", "breach", False),
        ("pm_high", "firing", "for_elapsed", False),
    ]
    assert changes[-1].incident.inhibited
    changes = feed(engine, [step(3 * H, {"pm25": 80.0, "pm10": 20.0})])
    assert summary(changes) == [
        ("pm10_stale", "resolved", "recovered", True),
        ("pm_high", "firing", "unmuted", True),
    ]
    assert not changes[-1].incident.inhibited


def test_silence_mutes_firing_then_unmutes() -> None:
    engine = AlertEngine(rules({"name": "pm_high", "quantity": "pm25", "threshold": 50}))
    engine.silences = [Silence(1, (parse_matcher("site_id=s"),), NOW - 1, NOW + 10)]
    changes = feed(engine, [step(0, {"pm25": 80.0})], now=NOW)
    assert summary(changes) == [
        ("pm_high", "pending", "breach", False),
        ("pm_high", "firing", "for_elapsed", False),
    ]
    assert changes[-1].incident.silenced
    changes = feed(engine, [step(H, {"pm25": 80.0})], now=NOW + 20)  # silence over
    assert summary(changes) == [("pm_high", "firing", "unmuted", True)]
    changes = feed(engine, [step(2 * H, {"pm25": 10.0})], now=NOW + 30)
    assert summary(changes) == [("pm_high", "resolved", "recovered", True)]


def test_resolved_is_not_sent_for_a_firing_nobody_heard() -> None:
    engine = AlertEngine(rules({"name": "pm_high", "quantity": "pm25", "threshold": 50}))
    engine.silences = [Silence(1, (parse_matcher("alertname=pm_high"),), 0, NOW + 10)]
    feed(engine, [step(0, {"pm25": 80.0})])
    changes = feed(engine, [step(H, {"pm25": 10.0})])
    assert summary(changes) == [("pm_high", "resolved", "recovered", False)]


def test_predictive_alert_with_expected_time() -> None:
    engine = AlertEngine(
        rules({"name": "pm_forecast", "quantity": "pm25", "expression": "forecast",
               "quantile": "p90", "threshold": 55.4,
               "message": "PM2.5 expected above {threshold} {unit} {expected_in}",
               "resolved_message": "PM2.5 no longer expected above {threshold} (peak {value})"})
    )  # fmt: skip
    targets = [i * H for i in range(1, 25)]

    def issue(at: int, p90: list[float]) -> ForecastIssue:
        return ForecastIssue("s", "pm25", "arx", at, [t + at for t in targets], {"p90": p90})

    rising = [20.0] * 5 + [60.0] * 19
    changes = engine.on_forecast(issue(0, rising), NOW)
    assert summary(changes) == [
        ("pm_forecast", "pending", "breach", False),
        ("pm_forecast", "firing", "for_elapsed", True),
    ]
    incident = changes[-1].incident
    assert incident.expected_at_ms == 6 * H
    assert incident.message == "PM2.5 expected above 55.4 ug/m3 in about 6 h"
    assert engine.on_forecast(issue(0, rising), NOW) == []  # the same issue redelivered
    changes = engine.on_forecast(issue(H, [20.0] * 24), NOW)
    assert summary(changes) == [("pm_forecast", "resolved", "recovered", True)]
    assert changes[-1].incident.message == "PM2.5 no longer expected above 55.4 (peak 20.0)"
    other_quantity = ForecastIssue("s", "load", "arx", 2 * H, targets, {"p90": [1e9] * 24})
    assert engine.on_forecast(other_quantity, NOW) == []


def letters(*offsets: int) -> list[DeadLetterId]:
    return [DeadLetterId("sensor.readings", 0, 0, o, 0) for o in offsets]


def test_redelivered_steps_are_ignored() -> None:
    engine = AlertEngine(rules({"name": "pm_high", "quantity": "pm25", "threshold": 50}))
    first = feed(engine, [step(0, {"pm25": 60.0}), step(H, {"pm25": 70.0})])
    state = engine.export("s")
    again = feed(engine, [step(0, {"pm25": 60.0}), step(H, {"pm25": 70.0})])
    assert summary(first) and again == []
    assert engine.export("s")["series"] == state["series"]


def test_dead_letter_ratio() -> None:
    engine = AlertEngine(
        rules({"name": "dl", "expression": "deadletter_ratio", "threshold": 0.2,
               "recovery": 0.1, "min_count": 10, "window": "1h"})
    )  # fmt: skip
    assert feed(engine, [step(0, {"pm25": 1.0}, readings=8)]) == []
    assert engine.on_dead_letters("s", letters(0), NOW) == []  # 1 of 9: too few to judge
    assert engine.on_dead_letters("s", letters(0), NOW) == []  # redelivered: not counted
    changes = engine.on_dead_letters("s", letters(1, 2, 3), NOW)  # 4 of 12 = 33 %
    assert summary(changes) == [
        ("dl", "pending", "breach", False),
        ("dl", "firing", "for_elapsed", True),
    ]
    assert changes[-1].incident.labels == {"alertname": "dl", "site_id": "s", "severity": "warning"}
    # An hour later the window holds only new, clean readings.
    changes = feed(engine, [step(H, {"pm25": 1.0}, readings=20)], now=NOW + H)
    assert summary(changes) == [("dl", "resolved", "recovered", True)]


def test_open_incidents_evaluated_are_taken_with_their_latest_values() -> None:
    engine = AlertEngine(rules({"name": "pm_high", "quantity": "pm25", "threshold": 50}))
    feed(engine, [step(0, {"pm25": 60.0}), step(H, {"pm25": 70.0})])
    assert [(i.state, i.value, i.peak) for i in engine.take_touched()] == [("firing", 70.0, 70.0)]
    assert engine.take_touched() == []  # taken
    feed(engine, [step(2 * H, {"pm25": 65.0})])  # no state change, a new value
    (latest,) = engine.take_touched()
    assert (latest.value, latest.peak, latest.message) == (
        65.0,
        70.0,
        "pm_high at s: pm25 65.0 (threshold 50.0)",
    )
    feed(engine, [step(3 * H, {"pm25": 10.0})])  # resolved: its change holds it
    assert engine.take_touched() == []


def test_water_quality_rules() -> None:
    engine = AlertEngine(load_rules())
    steps = [step(i * 900_000, {"ph": v, "dissolved_oxygen": 8.0}) for i, v in
             enumerate([7.2, 6.2, 6.1, 6.0, 6.3, 6.55, 6.7])]  # fmt: skip
    changes = [c for c in feed(engine, steps) if c.notify]
    assert [(c.incident.labels["alertname"], str(c.state)) for c in changes] == [
        ("ph_low", "firing"),
        ("ph_low", "resolved"),
    ]
    assert changes[0].incident.message == "pH 6.00 below 6.5 at s"
    # No resolved_message: the message of the worst value, marked resolved.
    assert changes[1].incident.message == "resolved: pH 6.00 below 6.5 at s"


def test_state_survives_export_and_restore() -> None:
    ruleset = rules({"name": "pm_high", "quantity": "pm25", "threshold": 50, "for": "1h"})
    engine = AlertEngine(ruleset)
    feed(engine, [step(0, {"pm25": 80.0}), step(H, {"pm25": 80.0})])
    saved = engine.export("s")
    restarted = AlertEngine(ruleset)
    restarted.restore("s", saved)
    assert feed(restarted, [step(H, {"pm25": 80.0})]) == []  # redelivered step
    changes = feed(restarted, [step(2 * H, {"pm25": 10.0})])
    assert summary(changes) == [("pm_high", "resolved", "recovered", True)]
    assert changes[0].incident.started_at_ms == 0
