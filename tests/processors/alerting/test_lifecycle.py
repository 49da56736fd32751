"""Every lifecycle transition, as a table of (values over time -> state changes)."""

import pytest

from gridbrain.processors.alerting.lifecycle import AlertState, Incident, evaluate
from gridbrain.processors.alerting.rules import Rule

H = 3_600_000


def rule(**kw: object) -> Rule:
    base: dict[str, object] = {"name": "pm", "quantity": "pm25", "threshold": 35.5}
    return Rule.model_validate({**base, **kw})


def run(r: Rule, values: list[float | None], step_ms: int = H) -> list[tuple[int, str, str, bool]]:
    """(step index, state, reason, notify) of every change."""
    incident: Incident | None = None
    out = []
    for i, v in enumerate(values):
        incident, changes = evaluate(r, incident, "k", {}, i * step_ms, v)
        out += [(i, str(c.state), c.reason, c.notify) for c in changes]
    return out


FOR_1H = rule(**{"for": "1h"})
HYST = rule(**{"for": "1h", "recovery": 30})


@pytest.mark.parametrize(
    ("r", "values", "expected"),
    [
        pytest.param(FOR_1H, [10, 20], [], id="never_breached"),
        pytest.param(FOR_1H, [40], [(0, "pending", "breach", False)], id="pending"),
        pytest.param(
            FOR_1H,
            [40, 20],
            [(0, "pending", "breach", False), (1, "inactive", "dropped", False)],
            id="pending_dropped_silently",
        ),
        pytest.param(
            FOR_1H,
            [40, 41],
            [(0, "pending", "breach", False), (1, "firing", "for_elapsed", True)],
            id="fires_once_for_elapsed",
        ),
        pytest.param(
            rule(),
            [40, 20],
            [
                (0, "pending", "breach", False),
                (0, "firing", "for_elapsed", True),
                (1, "resolved", "recovered", True),
            ],
            id="for_zero_fires_at_once",
        ),
        pytest.param(
            HYST,
            [40, 41, 33, 36, 33, 29],
            [
                (0, "pending", "breach", False),
                (1, "firing", "for_elapsed", True),
                (5, "resolved", "recovered", True),
            ],
            id="hysteresis_no_flap",
        ),
        pytest.param(
            FOR_1H,
            [40, 41, 33, 36, 37],
            [
                (0, "pending", "breach", False),
                (1, "firing", "for_elapsed", True),
                (2, "resolved", "recovered", True),
                (3, "pending", "breach", False),
                (4, "firing", "for_elapsed", True),
            ],
            id="without_hysteresis_it_flaps",
        ),
        pytest.param(
            FOR_1H,
            [40, 41, None, None, 20],
            [
                (0, "pending", "breach", False),
                (1, "firing", "for_elapsed", True),
                (2, "firing", "no_data", False),
                (4, "firing", "data_back", False),
                (4, "resolved", "recovered", True),
            ],
            id="missing_data_never_resolves",
        ),
        pytest.param(
            FOR_1H,
            [40, None, 41],
            [
                (0, "pending", "breach", False),
                (1, "pending", "no_data", False),
                (2, "pending", "data_back", False),
                (2, "firing", "for_elapsed", True),
            ],
            id="pending_through_no_data",
        ),
        pytest.param(
            rule(**{"for": "1h", "keep_firing_for": "2h"}),
            [40, 41, 10, 10, 50, 10, 10, 10],
            [
                (0, "pending", "breach", False),
                (1, "firing", "for_elapsed", True),
                (7, "resolved", "recovered", True),
            ],
            id="keep_firing_for",
        ),
        pytest.param(
            rule(**{"op": "<", "threshold": 6.5, "recovery": 6.6, "quantity": "ph"}),
            [7.0, 6.4, 6.55, 6.7],
            [
                (1, "pending", "breach", False),
                (1, "firing", "for_elapsed", True),
                (3, "resolved", "recovered", True),
            ],
            id="low_threshold",
        ),
    ],
)
def test_lifecycle(r: Rule, values: list[float | None], expected: list[object]) -> None:
    assert run(r, values) == expected


def test_repeat_interval_bounds_repeats() -> None:
    r = rule(repeat_interval="3h")
    incident, changes = evaluate(r, None, "k", {}, 0, 40.0)
    assert incident is not None and changes[-1].notify
    incident.notified, incident.last_notified_ms = AlertState.FIRING, 0  # the engine's part
    repeats = []
    for hour in range(1, 8):
        incident, changes = evaluate(r, incident, "k", {}, hour * H, 40.0)
        assert incident is not None
        for c in changes:
            repeats.append((hour, c.reason))
            incident.last_notified_ms = hour * H
    assert repeats == [(3, "repeat"), (6, "repeat")]


def test_incident_keeps_start_peak_and_times() -> None:
    incident = None
    changes = []
    for i, v in enumerate([40.0, 60.0, 45.0, 10.0]):
        incident, new = evaluate(FOR_1H, incident, "k", {}, i * H, v)
        changes += new
    resolved = changes[-1].incident
    assert incident is None and resolved.state is AlertState.RESOLVED
    assert (resolved.started_at_ms, resolved.fired_at_ms, resolved.resolved_at_ms) == (0, H, 3 * H)
    assert (resolved.peak, resolved.value) == (60.0, 10.0)


def test_redelivered_evaluations_change_nothing() -> None:
    incident, _ = evaluate(FOR_1H, None, "k", {}, 0, 40.0)
    assert evaluate(FOR_1H, incident, "k", {}, 0, 40.0) == (incident, [])
    _, changes = evaluate(FOR_1H, incident, "k", {}, H, 40.0)
    assert [c.reason for c in changes] == ["for_elapsed"]


def test_export_restore_round_trip() -> None:
    incident, _ = evaluate(FOR_1H, None, "k", {"site_id": "s"}, 0, 40.0)
    assert incident is not None
    incident.notified = AlertState.FIRING
    assert Incident.restore(incident.export()) == incident
