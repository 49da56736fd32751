import numpy as np
import pytest

from gridbrain.processors.alerting.engine import AlertEngine
from gridbrain.processors.alerting.rules import RuleSet
from gridbrain.processors.evaluation.alerts import (
    IncidentSpan,
    flaps,
    incident_spans,
    predictive_score,
    without_hysteresis,
)
from gridbrain.processors.fuse import FusedStep

H = 3_600_000
RULES = RuleSet.model_validate(
    {"rules": [{"name": "pm", "quantity": "pm25", "threshold": 35.5, "recovery": 30}]}
)


def spans_of(rules: RuleSet, values: list[float]) -> list[IncidentSpan]:
    engine = AlertEngine(rules)
    changes = []
    for i, v in enumerate(values):
        step = FusedStep("s", i * H, {"pm25": v}, {}, None, {"pm25": "ok"})
        changes += engine.on_step(step, 0)
    return incident_spans(changes)


def test_hysteresis_removes_the_flaps_of_a_hovering_value() -> None:
    hovering = [40, 34, 36, 33, 37, 20, 10, 10, 40]
    with_band = spans_of(RULES, hovering)
    without = spans_of(without_hysteresis(RULES), hovering)
    assert [(s.fired_ms // H, s.resolved_ms) for s in with_band] == [(0, 5 * H), (8, None)]
    assert len(without) == 4
    assert flaps(without) == {"pm": 2}  # 36 and 37 each re-fire an hour after resolving
    assert flaps(with_band) == {}  # the next incident comes 3 h after resolving
    assert flaps(with_band, within_ms=3 * H) == {"pm": 1}


def test_predictive_precision_recall_and_lead() -> None:
    ts = np.arange(48) * H
    values = np.full(48, 10.0)
    values[[10, 11, 30]] = 80.0  # two episodes: onsets at 10 h and 30 h
    values[20] = np.nan
    spans = [
        IncidentSpan("k", "f", 4 * H, 12 * H),  # warned 6 h before the first onset
        IncidentSpan("k", "f", 15 * H, 16 * H),  # 30 h is within 24 h of resolving: true
        IncidentSpan("k", "f", 40 * H, None),  # nothing follows
    ]
    issued = np.arange(0, 24) * H  # one issue an hour for the first day
    score = predictive_score(spans, issued, ts, values, 55.4, 24 * H)
    assert (score.incidents, score.true_incidents) == (3, 2)
    assert (score.episodes, score.caught) == (2, 1)  # the second span resolved before 30 h
    assert score.precision == pytest.approx(2 / 3) and score.recall == 0.5
    assert score.median_lead_h == 6.0
    # Issues 4..11 and 15 fire; all of them see an exceedance within 24 h (10 h or 30 h).
    assert (score.issues, score.firing_issues, score.issue_precision) == (24, 9, 1.0)
    assert score.issue_recall == pytest.approx(9 / 24)  # every issue had one coming


def test_a_permanent_alert_catches_everything_with_the_lead_capped() -> None:
    ts = np.arange(100) * H
    values = np.where(np.arange(100) % 30 == 29, 80.0, 10.0)
    score = predictive_score([IncidentSpan("k", "f", 0, None)], ts, ts, values, 55.4, 24 * H)
    assert (score.incidents, score.caught, score.episodes) == (1, 3, 3)
    assert score.median_lead_h == 24.0
