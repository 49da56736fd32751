"""Forecast messages are strict JSON; the alert and dispatch stages read them back as sent."""

import math

import msgspec
import numpy as np

from gridbrain.processors.forecast.forecaster import Forecast
from gridbrain.streams.forecasting import decode_forecast, forecast_bytes

T0 = 1_735_689_600_000


def test_a_nan_quantile_is_null_on_the_wire_and_nan_again_in_the_alert_stage() -> None:
    targets = T0 + 900_000 * np.arange(1, 5, dtype=np.int64)
    p50 = np.array([1.23456, math.nan, 3.0, -0.0])
    forecast = Forecast("site-ü", "load", T0 + 900_000, targets, p50 - 1, p50, p50 + 1, "arx")
    wire = forecast_bytes(forecast)
    data = msgspec.json.decode(wire)  # strict JSON: no NaN token
    assert [h["p50"] for h in data["horizons"]] == [1.2346, None, 3.0, -0.0]
    issue = decode_forecast(wire)
    assert issue.site_id == "site-ü" and issue.targets_ms == targets.tolist()
    assert issue.quantiles["p50"][0] == 1.2346 and math.isnan(issue.quantiles["p50"][1])
    assert math.isnan(issue.quantiles["p10"][1]) and issue.quantiles["p90"][2] == 4.0
