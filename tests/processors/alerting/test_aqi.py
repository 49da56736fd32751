import pytest

from processors.alerting.aqi import pm25_aqi


@pytest.mark.parametrize(
    ("concentration", "aqi", "category"),
    [
        pytest.param(0.0, 0, "Good", id="zero"),
        pytest.param(9.0, 50, "Good", id="good_top_2024"),
        pytest.param(9.1, 51, "Moderate", id="moderate_bottom"),
        pytest.param(12.0, 56, "Moderate", id="moderate_12"),
        pytest.param(35.4, 100, "Moderate", id="moderate_top"),
        pytest.param(35.49, 100, "Moderate", id="truncated_not_rounded"),
        pytest.param(35.5, 101, "Unhealthy for Sensitive Groups", id="usg_bottom"),
        pytest.param(55.4, 150, "Unhealthy for Sensitive Groups", id="usg_top"),
        pytest.param(55.5, 151, "Unhealthy", id="unhealthy_bottom"),
        pytest.param(125.5, 201, "Very Unhealthy", id="very_unhealthy_bottom_2024"),
        pytest.param(225.5, 301, "Hazardous", id="hazardous_bottom_2024"),
        pytest.param(325.4, 500, "Hazardous", id="index_top"),
        pytest.param(900.0, 500, "Hazardous", id="beyond_index"),
    ],
)
def test_pm25_aqi_2024_breakpoints(concentration: float, aqi: int, category: str) -> None:
    value, band = pm25_aqi(concentration)
    assert (value, band.name) == (aqi, category)
