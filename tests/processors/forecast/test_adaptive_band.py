import numpy as np

from gridbrain.processors.forecast.adaptive_band import adaptive_band, outcome_known_ms
from gridbrain.processors.forecast.batch import LEVELS, P10, P50, P90

H = 24
STEP = 3_600_000
DAY = H * STEP


def forecasts(days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily issues of a unit-width band around 0, outcomes twice as spread."""
    rng = np.random.default_rng(seed)
    band = np.linspace(-1.0, 1.0, len(LEVELS))
    quantiles = np.tile(band, (days, H, 1))
    actual = rng.normal(0, 2, (days, H))
    last_ts = np.arange(days, dtype=np.int64) * DAY
    return quantiles, actual, last_ts


def test_outcomes_are_known_a_horizon_after_the_issue() -> None:
    assert outcome_known_ms(np.array([0]), H, STEP).tolist() == [H * STEP]


def test_no_outcome_from_an_issues_future_moves_its_band() -> None:
    quantiles, actual, last_ts = forecasts(40)
    known = outcome_known_ms(last_ts, H, STEP)
    base = adaptive_band(quantiles, actual, last_ts, known, 14 * DAY, first=20)
    changed = actual.copy()
    changed[30:] *= 10  # outcomes of issue 30 on are known only after it was issued
    again = adaptive_band(quantiles, changed, last_ts, known, 14 * DAY, first=20)
    np.testing.assert_array_equal(base[:11], again[:11])
    assert not np.allclose(base[11:], again[11:])


def test_bands_widen_to_cover_and_keep_median_and_order() -> None:
    quantiles, actual, last_ts = forecasts(60)
    known = outcome_known_ms(last_ts, H, STEP)
    out = adaptive_band(quantiles, actual, last_ts, known, 21 * DAY, first=30)
    np.testing.assert_array_equal(out[..., P50], quantiles[30:, :, P50])
    assert (np.diff(out, axis=-1) >= 0).all()
    inside = (actual[30:] >= out[..., P10]) & (actual[30:] <= out[..., P90])
    assert 0.72 < inside.mean() < 0.88  # the raw band covers 0.38
    raw = (actual[30:] >= -0.8) & (actual[30:] <= 0.8)
    assert raw.mean() < 0.45


def test_unknown_outcomes_are_left_out_and_small_pools_leave_the_band() -> None:
    quantiles, actual, last_ts = forecasts(10)
    actual[:] = np.nan
    known = outcome_known_ms(last_ts, H, STEP)
    out = adaptive_band(quantiles, actual, last_ts, known, 30 * DAY, first=1)
    np.testing.assert_array_equal(out, quantiles[1:])
