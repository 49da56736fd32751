import numpy as np
import pytest

from gridbrain.processors.forecast.adaptive_band import LIMIT, BandTracker, misses, track_band
from gridbrain.processors.forecast.batch import LEVELS, P10, P50, P90

H = 24


def issues(days: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily issues of a band of unit half-width around 0; outcomes with ``spread``."""
    quantiles = np.tile(np.linspace(-1.0, 1.0, len(LEVELS)), (days, H, 1))
    actual = np.random.default_rng(seed).normal(0, spread, (days, H))
    return quantiles, actual, np.arange(days, dtype=np.int64) * H


def coverage(quantiles: np.ndarray, actual: np.ndarray) -> float:
    inside = (actual >= quantiles[..., P10]) & (actual <= quantiles[..., P90])
    return float(inside.mean())


def test_misses_move_each_side_by_its_own_share() -> None:
    tracker = BandTracker().update(below=0.5, above=0.0, weight=1.0, rate=0.1)
    assert tracker.low == pytest.approx(-0.04) and tracker.high == pytest.approx(-0.01)
    hourly = BandTracker()
    for _ in range(24):  # a day of hourly issues moves the band as one daily issue
        hourly = hourly.update(below=0.5, above=0.0, weight=1 / 24, rate=0.1)
    assert hourly.low == pytest.approx(tracker.low) and hourly.high == pytest.approx(tracker.high)


def test_shifts_are_bounded() -> None:
    tracker = BandTracker()
    for _ in range(1000):
        tracker = tracker.update(below=1.0, above=1.0, weight=1.0, rate=1.0)
    assert tracker.low == -LIMIT and tracker.high == LIMIT


def test_apply_keeps_the_median_the_order_and_scales_per_window() -> None:
    q = np.tile(np.linspace(-1.0, 1.0, len(LEVELS)), (2, 3, 1))
    out = BandTracker(low=-1.0, high=-5.0).apply(q, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(out[..., P50], q[..., P50])
    assert (np.diff(out, axis=-1) >= 0).all()
    assert out[0, 0, P10] == pytest.approx(q[0, 0, P10] - 1.0)
    assert out[1, 0, P10] == pytest.approx(q[1, 0, P10] - 2.0)  # twice the scale
    assert (out[..., P90] == q[..., P50]).all()  # pulled in as far as the median, not past
    assert out[0, 0, 0] < out[0, 0, P10]  # p05 moves further than p10


def test_tracking_reaches_the_target_coverage_from_a_narrow_band() -> None:
    q, y, t = issues(200, spread=2.0)
    out = track_band(q, y, t, t + H, np.ones(len(q)), rate=0.5, day_ms=H)
    assert coverage(q, y) < 0.4
    assert 0.75 < coverage(out[100:], y[100:]) < 0.85
    np.testing.assert_array_equal(out[..., P50], q[..., P50])


def test_no_outcome_from_an_issues_future_is_used() -> None:
    q, y, t = issues(40, spread=2.0)
    base = track_band(q, y, t, t + H, np.ones(40), rate=0.5, day_ms=H)
    changed = y.copy()
    changed[30:] = 0.0  # issue 30's outcomes are known from issue 31 on
    again = track_band(q, changed, t, t + H, np.ones(40), rate=0.5, day_ms=H)
    np.testing.assert_array_equal(base[:31], again[:31])
    assert not np.allclose(base[31:], again[31:])


def test_unknown_outcomes_do_not_count() -> None:
    q, y, t = issues(10, spread=2.0)
    assert misses(0, q[0], np.full(H, np.nan)) is None
    out = track_band(q, np.full_like(y, np.nan), t, t + H, np.ones(10), rate=0.5, day_ms=H)
    np.testing.assert_array_equal(out, q)
