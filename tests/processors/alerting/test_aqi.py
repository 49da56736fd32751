import pytest

from gridbrain.processors.alerting.aqi import (
    CO_8H,
    NO2_1H,
    O3_1H,
    O3_8H,
    PM10_24H,
    PM25_24H,
    SO2_1H,
    AqiTable,
    aqi,
    pm25_aqi,
)


@pytest.mark.parametrize(
    ("concentration", "aqi_value", "category"),
    [
        pytest.param(0.0, 0, "Good", id="zero"),
        pytest.param(9.0, 50, "Good", id="good_top_2024"),
        pytest.param(9.1, 51, "Moderate", id="moderate_bottom"),
        pytest.param(12.0, 56, "Moderate", id="moderate_12"),
        pytest.param(35.4, 100, "Moderate", id="moderate_top"),
        pytest.param(35.49, 100, "Moderate", id="truncated_not_rounded"),
        pytest.param(35.5, 101, "Unhealthy for Sensitive Groups", id="usg_bottom"),
        pytest.param(35.9, 102, "Unhealthy for Sensitive Groups", id="usg_35_9"),
        pytest.param(55.4, 150, "Unhealthy for Sensitive Groups", id="usg_top"),
        pytest.param(55.5, 151, "Unhealthy", id="unhealthy_bottom"),
        pytest.param(125.5, 201, "Very Unhealthy", id="very_unhealthy_bottom_2024"),
        pytest.param(225.5, 301, "Hazardous", id="hazardous_bottom_2024"),
        pytest.param(325.4, 500, "Hazardous", id="index_top"),
        pytest.param(900.0, 500, "Hazardous", id="beyond_index"),
    ],
)
def test_pm25_aqi_2024_breakpoints(concentration: float, aqi_value: int, category: str) -> None:
    value, band = pm25_aqi(concentration)
    assert (value, band.name) == (aqi_value, category)


def ugm3(ppx: float, table: AqiTable) -> float:
    """A concentration in the table's unit (ppm/ppb) expressed in the canonical unit."""
    return ppx / table.per_canonical


@pytest.mark.parametrize(
    ("table", "native", "expected"),
    [
        pytest.param(PM10_24H, 54.9, 50, id="pm10_truncated_to_integer"),
        pytest.param(PM10_24H, 155, 101, id="pm10_usg"),
        pytest.param(PM10_24H, 425, 301, id="pm10_hazardous_2024"),
        pytest.param(O3_8H, 0.078, 126, id="o3_8h_tad_example"),
        pytest.param(O3_8H, 0.0549, 50, id="o3_8h_truncated_3_decimals"),
        pytest.param(O3_8H, 0.201, None, id="o3_8h_undefined_above_0_200"),
        pytest.param(O3_1H, 0.110, None, id="o3_1h_undefined_below_0_125"),
        pytest.param(O3_1H, 0.125, 101, id="o3_1h_usg"),
        pytest.param(CO_8H, 8.4, 90, id="co_8h_moderate"),
        pytest.param(SO2_1H, 36, 51, id="so2_1h_moderate"),
        pytest.param(SO2_1H, 305, None, id="so2_1h_use_24h_above_304"),
        pytest.param(NO2_1H, 101, 101, id="no2_1h_usg"),
        pytest.param(NO2_1H, 2049, 500, id="no2_1h_top"),
    ],
)
def test_gas_and_pm10_tables(table: AqiTable, native: float, expected: int | None) -> None:
    result = aqi(table, ugm3(native, table) if table.unit != "ug/m3" else native)
    assert (None if result is None else result[0]) == expected


def test_unit_factors_at_25c() -> None:
    # 1 ppm of CO is 28.010/24.45 = 1.1456 mg/m3; 1 ppb of NO2 is 1.8816 ug/m3.
    assert 1 / CO_8H.per_canonical == pytest.approx(1.1456, abs=1e-4)
    assert 1 / NO2_1H.per_canonical == pytest.approx(1.8816, abs=1e-4)
    assert PM25_24H.per_canonical == 1.0
