from processors.fuse import FusedStep, WeatherAsOf
from processors.resample import ClosedStep
from processors.validate import WeatherObservation

STEP = 900_000


def test_as_of_join_uses_newest_observation_before_step_end() -> None:
    w = WeatherAsOf(staleness_ms=3_600_000)
    w.add(WeatherObservation("s", 0, {"temperature_c": 10.0}))
    w.add(WeatherObservation("s", 1_200_000, {"temperature_c": 30.0}))  # after the step's end
    w.add(WeatherObservation("s", 600_000, {"temperature_c": 20.0}))  # arrives out of order
    fused = w.fuse(ClosedStep("s", 0, {"load": 1.0}, {"load": 1}), STEP)
    assert fused.weather == {"temperature_c": 20.0}
    assert fused.weather_age_ms == 300_000


def test_stale_or_missing_weather_is_not_joined() -> None:
    w = WeatherAsOf(staleness_ms=600_000)
    w.add(WeatherObservation("s", 0, {"temperature_c": 10.0}))
    late_step = ClosedStep("s", 3 * STEP, {"load": 1.0}, {"load": 1})
    assert w.fuse(late_step, STEP).weather == {}
    assert w.fuse(ClosedStep("other", 0, {}, {}), STEP).weather_age_ms is None


def test_same_timestamp_merges_variables_and_round_trips() -> None:
    w = WeatherAsOf(staleness_ms=3_600_000)
    w.add(WeatherObservation("s", 0, {"temperature_c": 10.0}))
    w.add(WeatherObservation("s", 0, {"ghi_wm2": 100.0}))
    fused = w.fuse(ClosedStep("s", 0, {"load": 1.0}, {"load": 1}), STEP)
    assert fused.weather == {"temperature_c": 10.0, "ghi_wm2": 100.0}
    assert FusedStep.from_dict(fused.to_dict()) == fused
