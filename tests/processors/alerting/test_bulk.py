"""A site's steps judged in bulk (``on_steps``) give what judging them one by one gives."""

import json
import random

import pytest

from gridbrain.processors.alerting.engine import AlertEngine, DeadLetterId
from gridbrain.processors.alerting.lifecycle import Change, Incident
from gridbrain.processors.alerting.matchers import Silence, parse_matcher
from gridbrain.processors.alerting.rules import RuleSet, load_rules
from gridbrain.processors.fuse import FusedStep

H = 3_600_000
NOW = 1_800_000_000_000
LEVELS = {"pm25": 30.0, "pm10": 60.0, "o3": 80.0, "no2": 30.0, "so2": 20.0, "co": 1.0}
RULES = RuleSet.model_validate(
    {
        "rules": [
            {"name": "pm_for", "quantity": "pm25", "threshold": 40, "recovery": 30,
             "for": "2h", "keep_firing_for": "1h", "repeat_interval": "3h",
             "labels": {"category": "air_quality"}},
            {"name": "pm_mean48", "quantity": "pm25", "expression": "mean", "window": "48h",
             "min_coverage": 0.5, "threshold": 35},
            {"name": "pm_now", "quantity": "pm25", "expression": "nowcast", "threshold": 45},
            {"name": "o3_low", "quantity": "o3", "op": "<", "threshold": 40, "recovery": 50,
             "for": "30m"},
            {"name": "pm25_stale", "quantity": "pm25", "expression": "stale", "threshold": 1,
             "labels": {"category": "sensor_health"}},
            {"name": "pm25_flat", "quantity": "pm25", "expression": "flatline",
             "threshold": 0.5, "labels": {"category": "sensor_health"}},
            {"name": "dead", "expression": "deadletter_ratio", "window": "1h", "min_count": 5,
             "threshold": 0.2, "recovery": 0.1},
            {"name": "o3_aqi", "quantity": "o3", "expression": "aqi", "aqi_table": "o3_8h",
             "threshold": 30},
        ],
        "inhibit": [
            {"source": {"category": "sensor_health"}, "target": {"category": "air_quality"}},
            {"source": {"alertname": "pm_now"}, "target": {"alertname": "pm_for"}},
        ],
    }
)  # fmt: skip


def synthetic(seed: int, count: int, step_ms: int) -> list[FusedStep]:
    """Random walks with gaps, missing and flagged (some flat-lined) quantities."""
    rng = random.Random(seed)
    levels, steps, ts = dict(LEVELS), [], NOW // step_ms * step_ms - count * step_ms * 3
    for _ in range(count):
        ts += step_ms * (1 if rng.random() > 0.05 else rng.randint(2, 40))
        values, quality, flags = {}, {}, {}
        for q in levels:
            draw = rng.random()
            if draw < 0.1:
                continue
            levels[q] = min(500.0, max(0.0, levels[q] * rng.uniform(0.7, 1.4) + rng.uniform(-3, 3)))
            if draw < 0.15:
                quality[q], flags[q] = "flagged", ["flatline" if rng.random() < 0.7 else "spike"]
            else:
                values[q], quality[q] = round(levels[q], rng.choice([0, 1, 3])), "ok"
        readings = rng.randint(0, 5)
        steps.append(FusedStep("s", ts, values, {}, None, quality, flags=flags, readings=readings))
    return steps


Outcome = tuple[list[Change], list[list[Incident]], list[str]]


def replay(rules: RuleSet, steps: list[FusedStep], seed: int, bulk: bool, mute: bool) -> Outcome:
    """Batches of random sizes (some redelivered), dead letters, ticks and restarts."""
    rng = random.Random(seed)
    silences = [Silence(1, (parse_matcher("alertname=~pm.*"),), NOW + 2000, NOW + 10**9)]
    engine = AlertEngine(rules)
    engine.silences = silences if mute else []
    changes: list[Change] = []
    touched, states = [], []
    done, now, batch_no = 0, NOW, 0
    while done < len(steps):
        size = rng.choice([1, 3, 8, 9, 24, 100, 500])
        batch = steps[max(0, done - 3 if rng.random() < 0.1 else done) : done + size]
        done, now, batch_no = done + size, now + rng.choice([0, 1000, 600_000]), batch_no + 1
        if bulk:
            changes += engine.on_steps("s", batch, now)
        else:
            changes += [c for step in batch for c in engine.on_step(step, now)]
        if rng.random() < 0.2:
            letters = [
                DeadLetterId("sensor-readings", 0, 0, batch_no * 100 + j, 0)
                for j in range(rng.randint(1, 10))
            ]
            changes += engine.on_dead_letters("s", letters, now)
        if rng.random() < 0.1:
            changes += engine.on_tick(["s"], now + rng.randint(0, 5 * H), 10**13)
        touched.append(engine.take_touched())
        states.append(json.dumps(engine.export("s")))
        if rng.random() < 0.2:  # a restart
            engine = AlertEngine(rules)
            engine.silences = silences if mute else []
            engine.restore("s", json.loads(states[-1]))
    return changes, touched, states


@pytest.mark.parametrize("step_ms", [H, 15 * 60_000])
@pytest.mark.parametrize(("rules", "mute"), [(load_rules(), False), (RULES, False), (RULES, True)])
def test_bulk_judges_as_one_by_one(rules: RuleSet, mute: bool, step_ms: int) -> None:
    steps = synthetic(7, 600, step_ms)
    one_by_one = replay(rules, steps, 3, bulk=False, mute=mute)
    bulk = replay(rules, steps, 3, bulk=True, mute=mute)
    assert len(one_by_one[0]) > 50  # incidents happen
    assert bulk[0] == one_by_one[0]  # the same changes, incidents and messages
    assert bulk[1] == one_by_one[1]  # the same open incidents, in the same order
    assert bulk[2] == one_by_one[2]  # the same saved state, byte for byte


def test_values_it_cannot_match_bit_for_bit_go_one_by_one() -> None:
    steps = synthetic(8, 50, H)
    steps[10] = FusedStep("s", steps[10].ts_ms, {"pm25": 1e13}, {}, None, {"pm25": "ok"})
    assert replay(RULES, steps, 4, True, False) == replay(RULES, steps, 4, False, False)
