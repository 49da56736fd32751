import pytest

from gridbrain.processors.alerting.aqi import pm25_aqi
from gridbrain.processors.alerting.nowcast import nowcast


@pytest.mark.parametrize(
    ("hourly", "expected"),
    [
        pytest.param([20.0] * 12, 20.0, id="steady_is_the_mean"),
        pytest.param([71.0] + [0.0] * 11, 35.5, id="pulse_weight_floor_half"),
        pytest.param([10.0, 20.0] + [None] * 10, 13.3, id="two_hours_w_half"),
        pytest.param([None, 30.0, 30.0] + [None] * 9, 30.0, id="two_of_three_enough"),
        pytest.param([None, None, 30.0] + [30.0] * 9, None, id="one_of_three_missing_too_many"),
        pytest.param([0.0] * 12, 0.0, id="all_zero"),
    ],
)
def test_nowcast(hourly: list[float | None], expected: float | None) -> None:
    assert nowcast(hourly) == expected


def test_weight_factor_between_half_and_one() -> None:
    # min/max = 0.8: weights 0.8**age, so recent hours count more than a plain mean.
    hourly = [40.0] * 6 + [32.0] * 6
    value = nowcast(hourly)
    plain_mean = sum(hourly) / 12
    assert value is not None and plain_mean < value < 40.0
    expected = sum(0.8**a * v for a, v in enumerate(hourly)) / sum(0.8**a for a in range(12))
    assert value == pytest.approx(int(expected * 10) / 10)


def test_pulse_nowcast_is_just_unhealthy_for_sensitive_groups() -> None:
    value = nowcast([71.0] + [0.0] * 11)
    assert value is not None and pm25_aqi(value)[0] == 101
