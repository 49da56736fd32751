"""Band calibration by scaling: per horizon step and per hour of the day, the median kept."""

import numpy as np

from gridbrain.processors.forecast.band_scale import (
    BandScale,
    band_factors,
    scale_band,
    target_hours,
)
from gridbrain.processors.forecast.batch import LEVELS, P10, P50, P90


def _raw_and_errors(windows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A unit-width normal band at every step; outcomes spread 0.5 at lead 1 up to 3 at 24."""
    rng = np.random.default_rng(seed)
    z = np.array(
        [-1.645, -1.2816, -0.8416, -0.5244, -0.2533, 0, 0.2533, 0.5244, 0.8416, 1.2816, 1.645]
    )
    raw = np.broadcast_to(z, (windows, 24, len(LEVELS))).copy()
    spread = np.linspace(0.5, 3.0, 24)
    return raw, rng.normal(0, 1, (windows, 24)) * spread


def test_each_step_gets_the_band_its_errors_need() -> None:
    raw, target = _raw_and_errors(3000, 0)
    factors = band_factors(raw, target)
    assert factors.shape == (24, len(LEVELS)) and (factors[:, P50] == 1).all()
    np.testing.assert_allclose(factors[:, P90], np.linspace(0.5, 3.0, 24), rtol=0.12)
    fresh_raw, fresh = _raw_and_errors(3000, 1)
    q = scale_band(fresh_raw, factors)
    inside = (fresh >= q[..., P10]) & (fresh <= q[..., P90])
    per_step = inside.mean(axis=0)
    assert np.abs(per_step - 0.8).max() < 0.04  # the first and the last lead alike
    first = scale_band(fresh_raw, factors[0])  # the first lead's band at every lead
    assert (fresh >= first[..., P10])[:, -1].mean() < 0.7


def test_steps_with_few_outcomes_take_the_pooled_factor() -> None:
    raw, target = _raw_and_errors(400, 2)
    target[10:, :6] = np.nan  # PV at dawn: dark in most windows
    factors = band_factors(raw, target)
    assert np.allclose(factors[:6], factors[0])  # one factor for the sparse steps
    assert not np.allclose(factors[0], factors[12])
    medians = scale_band(raw, factors)[..., P50]
    np.testing.assert_array_equal(medians, raw[..., P50])
    old = scale_band(raw, np.ones(len(LEVELS)))  # a model saved with one factor per level
    np.testing.assert_array_equal(old, raw)


def test_the_hour_of_day_regime_gets_its_own_band() -> None:
    """Hourly origins: the lead says nothing of the hour; the spread is 0.5 at night, 3 at 18:00."""
    from gridbrain.processors.forecast.batch import WindowBatch
    from gridbrain.processors.forecast.local_calendar import LocalCalendar

    def windows(count: int, seed: int) -> tuple[WindowBatch, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        last = 1_704_067_200_000 + np.arange(count, dtype=np.int64) * 3_600_000
        nan = np.full(count, np.nan)
        madrid = np.full(count, LocalCalendar("Europe/Madrid"), dtype=object)
        batch = WindowBatch(
            np.zeros((count, 4)),
            np.zeros((count, 28, 0)),
            last,
            3_600_000,
            24,
            nan,
            nan,
            None,
            madrid,
        )
        hours = target_hours(batch)
        spread = 0.5 + 2.5 * np.exp(-(((hours - 18) / 2.0) ** 2))
        raw, _ = _raw_and_errors(count, seed)
        return batch, raw, rng.normal(0, 1, (count, 24)) * spread

    batch, raw, target = windows(4000, 3)
    hours = target_hours(batch)
    assert hours[0, 0] == 2  # 01:00 UTC on 1 January is 02:00 in Madrid
    band = BandScale.fit(raw, target, hours)
    fresh_batch, fresh_raw, fresh = windows(4000, 4)
    q = band.apply(fresh_raw, target_hours(fresh_batch))
    inside = (fresh >= q[..., P10]) & (fresh <= q[..., P90])
    by_hour = [inside[target_hours(fresh_batch) == h].mean() for h in range(24)]
    assert np.abs(np.array(by_hour) - 0.8).max() < 0.06
    steps_only = scale_band(fresh_raw, band_factors(raw, target))
    evening = target_hours(fresh_batch) == 18
    assert ((fresh >= steps_only[..., P10]) & (fresh <= steps_only[..., P90]))[
        evening
    ].mean() < 0.65
    old = BandScale.from_state({"band_scale": band.state()["band_scale"]})  # saved before hours
    assert (old.hour == 1).all() and np.array_equal(old.step, band.step)
    np.testing.assert_array_equal(BandScale.from_state(band.state()).hour, band.hour)
