import pytest

from gridbrain.processors.fuse import ForecastAsOf, FusedStep, WeatherAsOf, fuse
from gridbrain.processors.resample import ClosedStep
from gridbrain.processors.weather import WeatherForecast, WeatherObservation

STEP = 900_000
HOUR = 3_600_000


def _fuse(step: ClosedStep, w: WeatherAsOf, f: ForecastAsOf | None = None) -> FusedStep:
    return fuse(step, STEP, step.site_id, w, f or ForecastAsOf(HOUR))


def test_as_of_join_uses_newest_observation_before_step_end() -> None:
    w = WeatherAsOf(staleness_ms=HOUR)
    w.add(WeatherObservation("s", 0, {"temperature_c": 10.0}))
    w.add(WeatherObservation("s", 1_200_000, {"temperature_c": 30.0}))  # after the step's end
    w.add(WeatherObservation("s", 600_000, {"temperature_c": 20.0}))  # arrives out of order
    fused = _fuse(ClosedStep("s", 0, {"load": 1.0}, {"load": 1}), w)
    assert fused.weather == {"temperature_c": 20.0}
    assert fused.weather_age_ms == 300_000


def test_stale_or_missing_weather_is_not_joined() -> None:
    w = WeatherAsOf(staleness_ms=600_000)
    w.add(WeatherObservation("s", 0, {"temperature_c": 10.0}))
    late_step = ClosedStep("s", 3 * STEP, {"load": 1.0}, {"load": 1})
    assert _fuse(late_step, w).weather == {}
    assert _fuse(ClosedStep("other", 0, {}, {}), w).weather_age_ms is None


def test_same_timestamp_merges_variables_and_round_trips() -> None:
    w = WeatherAsOf(staleness_ms=HOUR)
    w.add(WeatherObservation("s", 0, {"temperature_c": 10.0}))
    w.add(WeatherObservation("s", 0, {"ghi_wm2": 100.0}))
    step = ClosedStep("s", 0, {"load": 1.0}, {"load": 2, "pm25": 0}, {"load": 1, "pm25": 3})
    fused = _fuse(step, w)
    assert fused.weather == {"temperature_c": 10.0, "ghi_wm2": 100.0}
    assert fused.quality == {"load": "cleaned", "pm25": "flagged"}
    assert FusedStep.from_dict(fused.to_dict()) == fused


def test_a_site_can_take_weather_from_a_station() -> None:
    w = WeatherAsOf(staleness_ms=HOUR)
    w.add(WeatherObservation("station-1", 0, {"temperature_c": 5.0}))
    fused = fuse(
        ClosedStep("pv", 0, {"pv_power": 1.0}, {"pv_power": 1}),
        STEP,
        "station-1",
        w,
        ForecastAsOf(HOUR),
    )
    assert fused.weather == {"temperature_c": 5.0} and fused.station_id == "station-1"


@pytest.mark.parametrize(
    ("issues", "expected"),
    [
        pytest.param([(0, 900_000, 1.0)], {"ghi_wm2": 1.0}, id="valid-at-step-end"),
        pytest.param(
            [(0, 900_000, 1.0), (600_000, 900_000, 2.0)], {"ghi_wm2": 2.0}, id="newest-issue-wins"
        ),
        pytest.param(
            [(0, 900_000, 1.0), (1_000_000, 900_000, 9.0)],
            {"ghi_wm2": 1.0},
            id="issued-after-step-end-is-look-ahead",
        ),
        pytest.param(
            [(0, 0, 1.0), (0, 2_000_000, 3.0)],
            {"ghi_wm2": 1.0},
            id="newest-valid-time-at-or-before-end",
        ),
        pytest.param([(-5 * HOUR, -3 * HOUR, 1.0)], {}, id="stale"),
        pytest.param([], {}, id="none"),
    ],
)
def test_forecast_as_of(issues: list[tuple[int, int, float]], expected: dict[str, float]) -> None:
    f = ForecastAsOf(staleness_ms=HOUR)
    for issued, valid, ghi in issues:
        f.add(WeatherForecast("s", issued, valid, {"ghi_wm2": ghi}))
    fused = _fuse(ClosedStep("s", 0, {"pv_power": 1.0}, {"pv_power": 1}), WeatherAsOf(HOUR), f)
    assert fused.weather_forecast == expected


def test_forecast_for_a_future_step_uses_issues_known_at_the_issue_time() -> None:
    f = ForecastAsOf(staleness_ms=HOUR)
    f.add(WeatherForecast("s", 0, 10 * HOUR, {"ghi_wm2": 1.0}))
    f.add(WeatherForecast("s", 2 * HOUR, 10 * HOUR, {"ghi_wm2": 2.0}))
    assert f.for_step("s", 10 * HOUR, known_at_ms=HOUR) == {"ghi_wm2": 1.0}
    assert f.for_step("s", 10 * HOUR, known_at_ms=3 * HOUR) == {"ghi_wm2": 2.0}
    assert f.for_step("s", 10 * HOUR, known_at_ms=-1) == {}


def test_forecast_memory_is_bounded() -> None:
    f = ForecastAsOf(staleness_ms=HOUR)
    for day in range(30):
        for h in range(48):
            f.add(
                WeatherForecast("s", day * 24 * HOUR, day * 24 * HOUR + h * HOUR, {"ghi_wm2": 1.0})
            )
    assert len(f._valid["s"]) <= 48 + 4


def test_forecast_text_follows_its_issue() -> None:
    f = ForecastAsOf(staleness_ms=HOUR)
    f.add(WeatherForecast("s", 0, 10 * HOUR, {"ghi_wm2": 1.0}, "light rain"))
    f.add(WeatherForecast("s", 2 * HOUR, 10 * HOUR, {}, "sky is clear"))
    # A repeat of an issue without text keeps its text; with text, replaces it.
    f.add(WeatherForecast("s", 0, 10 * HOUR, {"temperature_c": 4.0}))
    assert f.with_text("s", 10 * HOUR, known_at_ms=HOUR) == (
        {"ghi_wm2": 1.0, "temperature_c": 4.0},
        "light rain",
    )
    assert f.with_text("s", 10 * HOUR, known_at_ms=3 * HOUR) == ({}, "sky is clear")
    f.add(WeatherForecast("s", 0, 10 * HOUR, {}, "fog"))
    assert f.with_text("s", 10 * HOUR, known_at_ms=HOUR)[1] == "fog"
    assert f.with_text("s", 20 * HOUR, known_at_ms=3 * HOUR) == ({}, "")
