import pytest

from processors.alerting.lifecycle import AlertRule, AlertState, ThresholdAlerts

RULE = AlertRule("pm", "pm25", threshold=35.5, recovery=30.0, for_steps=2, severity="warning")


def run(values: list[float]) -> list[tuple[int, str, bool]]:
    alerts = ThresholdAlerts(RULE)
    out = []
    for i, v in enumerate(values):
        out += [(i, str(e.state), e.notify) for e in alerts.evaluate("s", i, v)]
    return out


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([10, 20], [], id="never_breached"),
        pytest.param([40], [(0, "pending", False)], id="pending"),
        pytest.param(
            [40, 20], [(0, "pending", False), (1, "resolved", False)], id="pending_dropped"
        ),
        pytest.param([40, 41], [(0, "pending", False), (1, "firing", True)], id="fires_after_for"),
        pytest.param(
            [40, 41, 33, 36, 33, 29],
            [(0, "pending", False), (1, "firing", True), (5, "resolved", True)],
            id="hysteresis_no_flap",
        ),
        pytest.param(
            [40, 41, 50, 60, 10, 40, 41],
            [
                (0, "pending", False),
                (1, "firing", True),
                (4, "resolved", True),
                (5, "pending", False),
                (6, "firing", True),
            ],
            id="second_incident",
        ),
    ],
)
def test_lifecycle(values: list[float], expected: list[tuple[int, str, bool]]) -> None:
    assert run(values) == expected


def test_incident_keeps_start_and_peak() -> None:
    alerts = ThresholdAlerts(RULE)
    events = []
    for i, v in enumerate([40.0, 60.0, 45.0, 10.0]):
        events += alerts.evaluate("s", i * 10, v)
    resolved = events[-1]
    assert resolved.state is AlertState.RESOLVED
    assert (resolved.started_at_ms, resolved.at_ms, resolved.value) == (0, 30, 60.0)


def test_restored_firing_incident_resolves_after_restart() -> None:
    alerts = ThresholdAlerts(RULE)
    alerts.restore("s", 0, AlertState.FIRING, 50.0)
    assert alerts.evaluate("s", 100, 45.0) == []
    (event,) = alerts.evaluate("s", 200, 5.0)
    assert (event.state, event.started_at_ms, event.notify) == (AlertState.RESOLVED, 0, True)


def test_redelivered_steps_do_not_count_twice() -> None:
    alerts = ThresholdAlerts(RULE)
    assert [str(e.state) for e in alerts.evaluate("s", 0, 40.0)] == ["pending"]
    assert alerts.evaluate("s", 0, 40.0) == []  # the same step again: not a second breach
    assert [str(e.state) for e in alerts.evaluate("s", 1, 40.0)] == ["firing"]
