import numpy as np

from gridbrain.processors.forecast.history import SeriesHistory
from gridbrain.processors.fuse import FusedStep

STEP = 900_000
HOUR = 3_600_000


def step(ts: int, **values: float) -> FusedStep:
    return FusedStep("s", ts, values, {"temperature_c": 10.0}, 0)


def test_due_on_interval_boundaries_only() -> None:
    h = SeriesHistory(STEP, length=8, interval_ms=HOUR)
    due = [h.add(step(i * STEP, load=1.0, temperature=3.0)) for i in range(8)]
    assert [i for i, d in enumerate(due) if d] == [3, 7]
    assert due[3] == [("s", "load", 3 * STEP)]  # only forecast quantities


def test_due_after_the_boundary_when_steps_are_missing() -> None:
    # 30-minute data in 15-minute steps: no step ends on the hour.
    h = SeriesHistory(STEP, length=8, interval_ms=HOUR)
    due = [bool(h.add(step(i * 2 * STEP, load=1.0))) for i in range(6)]
    assert due == [False, False, True, False, True, False]


def test_window_has_gaps_as_nan_and_ends_at_issue_time() -> None:
    h = SeriesHistory(STEP, length=4, interval_ms=HOUR)
    for i in (0, 1, 3, 4):
        h.add(step(i * STEP, load=float(i)))
    w = h.window("s", "load", 3 * STEP)
    assert np.isnan(w.y[2]) and w.y[3] == 3.0 and w.observed_steps == 3
    assert w.exog[0, 0] == 10.0


def test_windows_of_earlier_issue_times_stay_complete_in_a_long_batch() -> None:
    h = SeriesHistory(STEP, length=8, interval_ms=HOUR)
    for i in range(16):  # twice a window of steps arrive before forecasting
        h.add(step(i * STEP, load=float(i)))
    early = h.window("s", "load", 7 * STEP)
    assert early.y.tolist() == [float(i) for i in range(8)]
    assert h.window("s", "load", 15 * STEP).y[-1] == 15.0


def test_market_prices_are_forecast_like_any_quantity() -> None:
    h = SeriesHistory(STEP, length=8, interval_ms=HOUR)
    due = [h.add(step(i * STEP, price=-12.5, load=1.0)) for i in range(4)]
    assert due[3] == [("s", "load", 3 * STEP), ("s", "price", 3 * STEP)]
