import json
from typing import Any

import pytest

from gridbrain.errors import InvalidMessageError
from gridbrain.processors.validate import decode_items, validate_readings
from gridbrain.processors.weather import validate_weather, validate_weather_forecasts

NOW = 1_714_557_600_000  # 2024-05-01T10:00Z
FUTURE = 10 * 60_000


def reading(**overrides: Any) -> dict[str, Any]:
    base = {
        "site_id": "s1",
        "sensor_id": "m1",
        "quantity": "load",
        "value": 5.0,
        "unit": "MW",
        "ts": "2024-05-01T09:00:00+00:00",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def test_decode_single_object_is_a_batch_of_one() -> None:
    assert decode_items(b'{"a": 1}') == [{"a": 1}]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b'{"site_id": ', "malformed_json", id="truncated"),
        pytest.param(b"\xff\xfe", "malformed_json", id="not_utf8"),
        pytest.param(b"[]", "empty_batch", id="empty_array"),
    ],
)
def test_decode_rejects(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessageError) as info:
        decode_items(raw)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("item", "quantity", "value"),
    [
        pytest.param(reading(), "load", 5000.0, id="MW_to_kW"),
        pytest.param(reading(unit="W", value=2500), "load", 2.5, id="W_to_kW"),
        pytest.param(
            reading(quantity="temperature", unit="degF", value=212),
            "temperature",
            100.0,
            id="degF_to_degC",
        ),
        pytest.param(
            reading(quantity="temperature", unit="K", value=273.15),
            "temperature",
            0.0,
            id="K_to_degC",
        ),
        pytest.param(
            reading(quantity="no2", unit="ppb", value=24.45), "no2", 46.0055, id="no2_ppb_at_25C"
        ),
        pytest.param(reading(quantity="co", unit="ppm", value=24.45), "co", 28.010, id="co_ppm"),
        pytest.param(
            reading(quantity="wind_speed", unit="km/h", value=36),
            "wind_speed",
            10.0,
            id="kmh_to_ms",
        ),
        pytest.param(reading(sensor_id=...), "load", 5000.0, id="sensor_optional"),
        pytest.param(reading(ts=NOW - 3_600_000), "load", 5000.0, id="epoch_ms"),
    ],
)
def test_valid_readings_are_converted(item: dict[str, Any], quantity: str, value: float) -> None:
    batch, rejections = validate_readings([item], NOW, FUTURE)
    assert rejections == []
    assert batch.quantity == [quantity]
    assert batch.value[0] == pytest.approx(value)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        pytest.param("just a string", "not_an_object", id="not_an_object"),
        pytest.param(reading(site_id=...), "missing_site_id", id="missing_site"),
        pytest.param(reading(site_id=""), "bad_site_id", id="empty_site"),
        pytest.param(reading(quantity="voltage"), "unknown_quantity", id="unknown_quantity"),
        pytest.param(reading(unit="furlongs"), "unknown_unit", id="unknown_unit"),
        pytest.param(reading(quantity="pm25", unit="ppb"), "unknown_unit", id="pm_in_ppb"),
        pytest.param(reading(value=...), "missing_value", id="missing_value"),
        pytest.param(reading(value="12"), "bad_value", id="value_as_string"),
        pytest.param(reading(value=None), "bad_value", id="value_null"),
        pytest.param(reading(value=True), "bad_value", id="value_bool"),
        pytest.param(reading(ts=...), "missing_ts", id="missing_ts"),
        pytest.param(reading(ts="2024-05-01 09:00"), "bad_timestamp", id="naive_ts"),
        pytest.param(reading(ts=NOW + 3_600_000), "future_timestamp", id="future_ts"),
    ],
)
def test_invalid_readings_are_rejected_with_reason(item: Any, reason: str) -> None:
    batch, rejections = validate_readings([item], NOW, FUTURE)
    assert len(batch) == 0
    assert [r.reason for r in rejections] == [reason]
    assert rejections[0].payload == item


def test_mixed_batch_keeps_positions() -> None:
    items = [reading(), reading(unit="x"), reading(value=7, unit="kW")]
    batch, rejections = validate_readings(json.loads(json.dumps(items)), NOW, FUTURE)
    assert batch.index == [0, 2]
    assert [r.index for r in rejections] == [1]


def test_weather_station_alias_and_range() -> None:
    good = {"station_id": "st1", "ts": NOW - 60_000, "temperature_c": 12.5, "ghi_wm2": 300}
    bad = {"site_id": "s1", "ts": NOW - 60_000, "humidity_pct": 140}
    empty = {"site_id": "s1", "ts": NOW - 60_000, "colour": "blue"}
    observations, rejections = validate_weather([good, bad, empty], NOW, FUTURE)
    assert observations[0].site_id == "st1"
    assert observations[0].variables == {"temperature_c": 12.5, "ghi_wm2": 300.0}
    assert [r.reason for r in rejections] == ["out_of_range", "no_variables"]


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        pytest.param("light rain, mist", "light rain, mist", id="text"),
        pytest.param("  fog  ", "fog", id="stripped"),
        pytest.param("小雨", "小雨", id="chinese"),
        pytest.param("", None, id="empty-is-none"),
        pytest.param("rain\u0000", "bad_description", id="nul"),
        pytest.param("rain\x1b[31m", "bad_description", id="escape"),
        pytest.param("rain\nsnow", "bad_description", id="newline"),
        pytest.param("\ud800", "bad_description", id="lone-surrogate"),
        pytest.param("x" * 201, "bad_description", id="over-long"),
        pytest.param(7, "bad_description", id="number"),
        pytest.param(["rain"], "bad_description", id="list"),
        pytest.param({"a": {"b": "rain"}}, "bad_description", id="nested"),
    ],
)
def test_weather_text_of_observations_and_forecasts(description: Any, expected: str | None) -> None:
    observation = {"site_id": "s1", "ts": NOW - 60_000, "ghi_wm2": 1.0, "description": description}
    forecast = {
        "site_id": "s1",
        "issued_at": NOW - 60_000,
        "valid_at": NOW + 3_600_000,
        "description": description,
    }
    observed, rejected = validate_weather([observation], NOW, FUTURE)
    forecasts, refused = validate_weather_forecasts([forecast], NOW, FUTURE)
    if expected == "bad_description":
        assert [r.reason for r in rejected] == [r.reason for r in refused] == [expected]
        return
    assert observed[0].description == expected
    if expected is None:  # a forecast of nothing at all
        assert [r.reason for r in refused] == ["no_variables"]
    else:
        assert forecasts[0].description == expected and forecasts[0].variables == {}
