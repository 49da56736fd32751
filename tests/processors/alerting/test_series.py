import pytest

from gridbrain.processors.alerting.aqi import SO2_1H, SO2_24H
from gridbrain.processors.alerting.series import HOUR_MS, HourlySeries


def series(hourly: list[float | None], step_ms: int = HOUR_MS) -> HourlySeries:
    """Oldest first, one value per hour (None: missing)."""
    s = HourlySeries()
    for i, v in enumerate(hourly):
        if v is not None:
            s.add(i * HOUR_MS, v)
    return s


def test_quarter_hours_fold_into_hourly_means() -> None:
    s = HourlySeries()
    for q, v in enumerate([10.0, 20.0, 30.0, 40.0]):
        s.add(q * 900_000, v)
    assert s.hourly(0, 1) == [25.0]


def test_24h_mean_needs_18_hours() -> None:
    values: list[float | None] = [10.0] * 18 + [None] * 6
    assert series(values).mean(23 * HOUR_MS, 24 * HOUR_MS, 0.75) == 10.0
    values[0] = None  # 17 of 24
    assert series(values).mean(23 * HOUR_MS, 24 * HOUR_MS, 0.75) is None


def test_mean_is_of_hourly_means_over_the_window_only() -> None:
    s = series([100.0] * 24 + [10.0] * 8)
    assert s.mean(31 * HOUR_MS, 8 * HOUR_MS, 0.75) == 10.0
    assert s.mean(31 * HOUR_MS, 24 * HOUR_MS, 0.75) == pytest.approx((16 * 100 + 8 * 10) / 24)


def test_epa_nowcast_example() -> None:
    # EPA's "Computing the NowCast" example, oldest hour first: 17.4 ug/m3.
    s = series([50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13])
    assert s.nowcast(11 * HOUR_MS) == 17.4
    assert s.aqi(11 * HOUR_MS, "pm25") == (66, "Moderate")


def test_nowcast_needs_two_of_the_last_three_hours() -> None:
    s = series([20.0] * 10 + [None, None])
    assert s.nowcast(11 * HOUR_MS) is None
    assert s.aqi(11 * HOUR_MS, "pm25") is None


def test_so2_above_the_1h_table_uses_the_24h_average() -> None:
    ugm3 = 400 / SO2_1H.per_canonical  # 400 ppb for a whole day
    s = series([ugm3] * 24)
    assert s.aqi(23 * HOUR_MS, "so2_1h") == (232, "Very Unhealthy")
    assert SO2_24H.bands[0].c_low == 305


def test_o3_8h_above_its_table_uses_1h() -> None:
    from gridbrain.processors.alerting.aqi import O3_8H

    ugm3 = 0.25 / O3_8H.per_canonical  # 0.250 ppm
    s = series([ugm3] * 8)
    assert s.aqi(7 * HOUR_MS, "o3_8h") == (s.aqi(7 * HOUR_MS, "o3_1h") or (0, ""))
    assert s.aqi(7 * HOUR_MS, "o3_1h") == (223, "Very Unhealthy")


def test_old_hours_are_dropped_and_state_round_trips() -> None:
    s = series([1.0] * 40)
    assert len(s.hours) == 25
    assert HourlySeries.restore(s.export()) == s
